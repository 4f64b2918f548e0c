// An image file as the data layer reads it for a model (read_image: decode
// with stb_image to RGB) and the resize every model input goes through.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "data/image.h"
#include "mike/error.h"
#include "scratch_dir.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file =
      mike::fuzz::scratch().write("image", std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    const mike::data::Image image = mike::data::read_image(file);
    // The resize runs the same code for every size, at a cost linear in the
    // pixels; under ASan + coverage a few megapixels already take longer
    // than libFuzzer's 10 s timeout, which would report a slow input as a
    // hang. Small images cover its paths.
    if (static_cast<std::int64_t>(image.width) * image.height <= (std::int64_t{1} << 20))
      (void)mike::data::resize_image(image, 8, 8, mike::data::ResizeFilter::kBicubic);
  } catch (const mike::Error&) {
  }
  return 0;
}
