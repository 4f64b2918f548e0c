#include "data/bmp_pixel_data.h"

#include <cstdint>
#include <cstdlib>
#include <limits>

namespace mike::data {

namespace {

// Offsets in the BMP file header (14 bytes) and the DIB header after it.
constexpr std::size_t kPixelOffsetAt = 10;
constexpr std::size_t kDibSizeAt = 14;
constexpr std::uint32_t kCoreHeaderSize = 12;  // OS/2 BITMAPCOREHEADER: 16-bit sizes
constexpr std::int32_t kCompressionRle8 = 1;
constexpr std::int32_t kCompressionRle4 = 2;
constexpr std::int32_t kCompressionFirstUnsupported = 4;  // JPEG, PNG, ... inside a BMP

std::uint32_t u16(const unsigned char* at) { return at[0] | (at[1] << 8); }
std::uint32_t u32(const unsigned char* at) {
  return at[0] | (at[1] << 8) | (at[2] << 16) | (static_cast<std::uint32_t>(at[3]) << 24);
}

}  // namespace

std::string bmp_pixel_data_problem(const unsigned char* bytes, std::size_t size) {
  if (size < 30 || bytes[0] != 'B' || bytes[1] != 'M') return "";
  const std::uint32_t dib_size = u32(bytes + kDibSizeAt);
  std::int64_t width = 0, height = 0, bits_per_pixel = 0;
  if (dib_size == kCoreHeaderSize) {
    width = u16(bytes + 18);
    height = u16(bytes + 20);
    bits_per_pixel = u16(bytes + 24);
  } else {
    if (size < 34) return "";
    width = static_cast<std::int32_t>(u32(bytes + 18));
    height = std::llabs(static_cast<std::int32_t>(u32(bytes + 22)));  // negative: rows top-down
    bits_per_pixel = u16(bytes + 28);
    // stb reads the field as a signed int and refuses only 1, 2 (RLE) and
    // >= 4; any other value, negative ones included, it decodes as
    // uncompressed pixels, so those are checked too (a negative one let a
    // 231-byte file claim 3x33,618,944 pixels and hang stb: fuzz_image).
    const auto compression = static_cast<std::int32_t>(u32(bytes + 30));
    if (compression == kCompressionRle8 || compression == kCompressionRle4 || compression >= kCompressionFirstUnsupported)
      return "";  // stb refuses these itself
  }
  if (width <= 0 || height <= 0 || bits_per_pixel <= 0) return "";  // stb refuses these itself
  // Rows are padded to 4 bytes (BMP spec). Width and bits are < 2^32, so a row
  // fits in 64 bits; past the file's size it is refused before multiplying by
  // the height, so `needed` stays below 2^63 too (found by fuzz_image).
  const std::int64_t row_bytes = (width * bits_per_pixel + 31) / 32 * 4;
  const std::int64_t file_bytes = static_cast<std::int64_t>(size);
  const std::int64_t needed = row_bytes > file_bytes ? std::numeric_limits<std::int64_t>::max()
                                                     : static_cast<std::int64_t>(u32(bytes + kPixelOffsetAt)) +
                                                           row_bytes * height;
  if (needed <= file_bytes) return "";
  if (needed == std::numeric_limits<std::int64_t>::max())
    return "its header says " + std::to_string(width) + "x" + std::to_string(height) + " pixels at " +
           std::to_string(bits_per_pixel) + " bits, one row alone more than the file's " + std::to_string(size) +
           " bytes (truncated?)";
  return "its header says " + std::to_string(width) + "x" + std::to_string(height) + " pixels at " +
         std::to_string(bits_per_pixel) + " bits, " + std::to_string(needed) + " bytes, but the file has " +
         std::to_string(size) + " (truncated?)";
}

}  // namespace mike::data
