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
    (void)mike::data::resize_image(image, 8, 8, mike::data::ResizeFilter::kBicubic);
  } catch (const mike::Error&) {
  }
  return 0;
}
