#pragma once
// A BMP file's bytes built field by field, for tests of damaged headers: a
// 14-byte file header (pixel data at byte 54), a 40-byte BITMAPINFOHEADER
// up to its compression field, then zeros up to `file_size`.
#include <cstdint>
#include <string>

namespace mike::test {

inline std::string bmp_bytes(std::uint32_t file_size, std::uint32_t width, std::uint32_t height,
                             std::uint16_t bits_per_pixel, std::uint32_t compression) {
  auto le16 = [](std::uint32_t v) { return std::string{char(v), char(v >> 8)}; };
  auto le32 = [](std::uint32_t v) { return std::string{char(v), char(v >> 8), char(v >> 16), char(v >> 24)}; };
  std::string bmp = "BM" + le32(file_size) + le32(0) + le32(54);  // file header: size, reserved, pixel offset
  bmp += le32(40) + le32(width) + le32(height) + le16(1) + le16(bits_per_pixel) + le32(compression);  // planes 1
  if (bmp.size() < file_size) bmp += std::string(file_size - bmp.size(), '\0');
  return bmp;
}

}  // namespace mike::test
