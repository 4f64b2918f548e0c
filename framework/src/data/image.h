#pragma once
// RGB images as the data layer sees them: decode (stb_image), resize, write
// PNG. Torch-free; image_tensor.h turns them into model input tensors.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mike::data {

// 8-bit RGB, row-major, interleaved: pixel (x, y) channel c is
// rgb[(y * width + x) * 3 + c].
struct Image {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb;

  std::uint8_t* at(int x, int y) { return rgb.data() + (static_cast<std::size_t>(y) * width + x) * 3; }
  const std::uint8_t* at(int x, int y) const {
    return rgb.data() + (static_cast<std::size_t>(y) * width + x) * 3;
  }
};

// A blank image filled with one colour.
Image make_image(int width, int height, std::uint8_t r = 0, std::uint8_t g = 0, std::uint8_t b = 0);

// Decodes PNG/JPEG/BMP/GIF/TGA/PPM to RGB (grey and alpha are converted).
// Throws DataError naming the path and stb_image's reason, with a fix.
Image read_image(const std::filesystem::path& path);

// Full check: the file exists and stb_image decodes it (a truncated file with
// a valid header fails). On failure returns false and sets `reason`.
bool probe_image(const std::filesystem::path& path, std::string* reason);

// Writes a PNG; throws DataError if the file cannot be written.
void write_png(const std::filesystem::path& path, const Image& image);
// Encodes a PNG in memory (deterministic bytes for a given image).
std::vector<std::uint8_t> encode_png(const Image& image);

enum class ResizeFilter {
  kBilinear,  // triangle filter (bilinear when upsampling, area-weighted when shrinking)
  kBicubic,   // Catmull-Rom cubic, what CLIP/PIL "bicubic" preprocessing approximates
};
// "bilinear" | "bicubic"; throws ConfigError naming the accepted values.
ResizeFilter parse_resize_filter(const std::string& name);

// Resamples to width x height (sRGB values treated as linear, as PIL does).
Image resize_image(const Image& image, int width, int height, ResizeFilter filter);

}  // namespace mike::data
