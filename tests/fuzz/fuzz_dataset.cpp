// One dataset split as `mike run` / `mike data validate` load it: the first
// byte picks the format (mike JSON lines, MMEdit or VLKEB JSON), the rest is
// the split file. Images are checked as a run checks them; the scratch
// folder holds decodable PNGs under the names the seed records use, so
// records get past the image checks to the fields behind them.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "data/dataset.h"
#include "data/image.h"
#include "mike/error.h"
#include "scratch_dir.h"

namespace {

constexpr const char* kFormats[] = {"mike", "mmedit", "vlkeb"};
constexpr const char* kImageNames[] = {"images/heron.png", "images/heron_2.png", "images/street.png",
                                       "images/kettle.png"};

void write_seed_images() {
  const std::vector<std::uint8_t> png = mike::data::encode_png(mike::data::make_image(2, 2, 200, 120, 40));
  for (const char* name : kImageNames)
    mike::fuzz::scratch().write(name, std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool images_written = (write_seed_images(), true);
  (void)images_written;
  if (size == 0) return 0;
  const std::string format = kFormats[data[0] % 3];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto& scratch = mike::fuzz::scratch();
  scratch.write(format == "mike" ? "test.jsonl" : "test.json", text);
  try {
    (void)mike::data::load_dataset(scratch.path(), "test", format);
  } catch (const mike::Error&) {
  }
  return 0;
}
