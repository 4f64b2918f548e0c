// stb_image / stb_image_write / stb_image_resize compiled here with static
// linkage, so no other library's copy of stb can clash with ours.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
// Only the formats datasets use, and not JPEG (jpeg_decode.h says why). stb
// also decodes TGA, PNM, PSD, HDR and PIC, and like its BMP reader (see
// bmp_pixel_data.h) those accept truncated or hand-made files; every decoder
// left out is attack surface left out.
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_STATIC
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>
#include <stb/stb_image_write.h>

#include "data/image.h"
#include "data/bmp_pixel_data.h"
#include "data/jpeg_decode.h"
#include "data/png_chunks.h"

#include <cstdint>
#include <fstream>
#include <limits>
#include <memory>
#include <string_view>

#include "mike/error.h"

namespace mike::data {

namespace {

// 64 megapixels (192 MiB as RGB): far above any model input, far below what
// would exhaust a machine.
constexpr std::int64_t kMaxImagePixels = std::int64_t{1} << 26;
// stb's GIF reader keeps three RGBA canvases of the whole screen and clears
// them per frame, so a 50-byte GIF claiming a 65285x768 screen cost ~900 MB
// and seconds (found by tests/fuzz/fuzz_image). No dataset photo is a GIF
// of more than 4 megapixels; PNG has no such cost.
constexpr std::int64_t kMaxGifPixels = std::int64_t{1} << 22;
// A header may claim any size and stb fills what the data lacks, so 633
// bytes of JPEG decoded to 8197x4096 pixels and took seconds (found by
// tests/fuzz/fuzz_image). Real images never pack more than a few hundred
// pixels into a byte (a flat RGB PNG: ~344), so above a megapixel a file
// must hold at least one byte per 1,024 pixels it claims.
constexpr std::int64_t kMaxPixelsPerByte = 1024;
constexpr std::int64_t kPixelsAlwaysAllowed = std::int64_t{1} << 20;

std::vector<char> read_bytes(const std::filesystem::path& path, std::string* reason) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *reason = std::filesystem::exists(path) ? "it cannot be opened (permissions?)" : "the file does not exist";
    return {};
  }
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The formats stb is built with here (STBI_ONLY_* above), by their
// signatures, so a file of any other format gets a message that says so
// instead of stb's "not of any known type, or corrupt".
bool has_supported_signature(const std::vector<char>& bytes) {
  auto starts_with = [&](std::string_view magic) {
    return bytes.size() >= magic.size() && std::string_view(bytes.data(), magic.size()) == magic;
  };
  return starts_with("\x89PNG\r\n\x1a\n") || starts_with("\xff\xd8") || starts_with("BM") ||
         starts_with("GIF87a") || starts_with("GIF89a");
}

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<std::uint8_t>*>(context);
  auto* bytes = static_cast<std::uint8_t*>(data);
  out->insert(out->end(), bytes, bytes + size);
}

}  // namespace

Image make_image(int width, int height, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
  Image image;
  image.width = width;
  image.height = height;
  image.rgb.resize(static_cast<std::size_t>(width) * height * 3);
  for (std::size_t i = 0; i < image.rgb.size(); i += 3) {
    image.rgb[i] = r;
    image.rgb[i + 1] = g;
    image.rgb[i + 2] = b;
  }
  return image;
}

namespace {

// Decodes `path` into `image`; on failure returns false with the reason.
// Why an image of this size (from its header) may not be decoded, or "".
std::string size_problem(int width, int height, std::size_t file_bytes, bool gif) {
  const std::int64_t pixels = static_cast<std::int64_t>(width) * height;
  const std::string size = std::to_string(width) + "x" + std::to_string(height);
  if (width <= 0 || height <= 0) return "it is " + size + " pixels: an image with no pixels (damaged, or an empty frame)";
  if (pixels > kMaxImagePixels)
    return "it is " + size + " pixels, more than the " + std::to_string(kMaxImagePixels) +
           " an image may have; shrink it";
  if (gif && pixels > kMaxGifPixels)
    return "it is a " + size + " GIF, more than the " + std::to_string(kMaxGifPixels) +
           " pixels a GIF may have (decoding one costs 12 bytes a pixel); convert it to PNG";
  const auto bytes = static_cast<std::int64_t>(file_bytes);
  if (pixels > kPixelsAlwaysAllowed && pixels > kMaxPixelsPerByte * bytes)
    return "it claims " + size + " pixels but holds only " + std::to_string(bytes) + " bytes, more than " +
           std::to_string(kMaxPixelsPerByte) + " pixels a byte: a truncated or crafted file; re-export the image";
  return "";
}

// Decodes `path` into `image`; on failure returns false with the reason.
bool decode(const std::filesystem::path& path, Image* image, std::string* reason) {
  reason->clear();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    *reason = std::filesystem::exists(path, ec) ? "it is not a regular file" : "the file does not exist";
    return false;
  }
  std::vector<char> bytes = read_bytes(path, reason);
  if (!reason->empty()) return false;
  if (bytes.empty()) {
    *reason = "the file is empty";
    return false;
  }
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    *reason = "it is larger than 2 GiB, more than stb_image reads";
    return false;
  }
  if (!has_supported_signature(bytes)) {
    *reason = "it is not a PNG, JPEG, BMP or GIF file (the formats mike reads; convert it to PNG)";
    return false;
  }
  const auto* encoded = reinterpret_cast<const stbi_uc*>(bytes.data());
  if (looks_like_jpeg(encoded, bytes.size())) {
    return decode_jpeg(
        encoded, bytes.size(), [&](int w, int h) { return size_problem(w, h, bytes.size(), false); }, image, reason);
  }
  if (looks_like_png(encoded, bytes.size())) {
    if (std::string problem = png_chunk_problem(encoded, bytes.size()); !problem.empty()) {
      *reason = "it is a damaged PNG: " + problem;
      return false;
    }
  }
  if (std::string problem = bmp_pixel_data_problem(encoded, bytes.size()); !problem.empty()) {
    *reason = "it is a damaged BMP: " + problem;
    return false;
  }
  // The header's size is checked before stb allocates for it, so a few bytes
  // claiming a huge image (a decompression bomb) cost no memory.
  int width = 0, height = 0, channels = 0;
  if (stbi_info_from_memory(encoded, static_cast<int>(bytes.size()), &width, &height, &channels)) {
    if (std::string problem = size_problem(width, height, bytes.size(), bytes[0] == 'G'); !problem.empty()) {
      *reason = problem;
      return false;
    }
  }
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(encoded, static_cast<int>(bytes.size()), &image->width, &image->height, &channels, 3),
      stbi_image_free);
  if (!pixels) {
    *reason = std::string("it is not a readable image (") + stbi_failure_reason() + ")";
    return false;
  }
  // stb hands back a GIF whose screen is 0 pixels high (found by
  // tests/fuzz/fuzz_image) as a "decoded" image; there is nothing to resize
  // or look at, and resizing it divides by zero.
  if (std::string problem = size_problem(image->width, image->height, bytes.size(), false);
      image->width <= 0 || image->height <= 0) {
    *reason = problem;
    return false;
  }
  image->rgb.assign(pixels.get(), pixels.get() + static_cast<std::size_t>(image->width) * image->height * 3);
  return true;
}

}  // namespace

bool probe_image(const std::filesystem::path& path, std::string* reason) {
  Image image;
  return decode(path, &image, reason);
}

Image read_image(const std::filesystem::path& path) {
  Image image;
  std::string reason;
  if (!decode(path, &image, &reason)) {
    throw DataError("cannot load image '" + path.string() + "': " + reason +
                    "; fix: point the record at an existing PNG/JPEG/BMP/GIF file, or re-create the dataset");
  }
  return image;
}

std::vector<std::uint8_t> encode_png(const Image& image) {
  std::vector<std::uint8_t> out;
  if (!stbi_write_png_to_func(append_bytes, &out, image.width, image.height, 3, image.rgb.data(), image.width * 3)) {
    throw DataError("cannot encode a " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                    " image as PNG");
  }
  return out;
}

void write_png(const std::filesystem::path& path, const Image& image) {
  std::vector<std::uint8_t> bytes = encode_png(image);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    throw DataError("cannot write '" + path.string() + "'; fix: check the folder exists, is writable and has space");
  }
}

ResizeFilter parse_resize_filter(const std::string& name) {
  if (name == "bilinear") return ResizeFilter::kBilinear;
  if (name == "bicubic") return ResizeFilter::kBicubic;
  throw ConfigError("unknown image resize filter '" + name + "'; use bilinear or bicubic");
}

Image resize_image(const Image& image, int width, int height, ResizeFilter filter) {
  if (width <= 0 || height <= 0) {
    throw DataError("cannot resize an image to " + std::to_string(width) + "x" + std::to_string(height) +
                    "; the size must be positive");
  }
  if (image.width <= 0 || image.height <= 0 ||
      image.rgb.size() != static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height) * 3) {
    throw DataError("cannot resize a " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                    " image holding " + std::to_string(image.rgb.size()) + " bytes: it has no pixels or not as many "
                    "as its size says");
  }
  if (width == image.width && height == image.height) return image;
  Image out = make_image(width, height);
  stbir_filter kind = filter == ResizeFilter::kBicubic ? STBIR_FILTER_CATMULLROM : STBIR_FILTER_TRIANGLE;
  int ok = stbir_resize_uint8_generic(image.rgb.data(), image.width, image.height, image.width * 3, out.rgb.data(),
                                      width, height, width * 3, 3, STBIR_ALPHA_CHANNEL_NONE, 0, STBIR_EDGE_CLAMP,
                                      kind, STBIR_COLORSPACE_LINEAR, nullptr);
  if (!ok) throw DataError("image resize failed (out of memory?)");
  return out;
}

}  // namespace mike::data
