#pragma once
// JPEG decoding with libjpeg-turbo instead of stb_image. Debian's stb_image
// (2.27) has memory-safety bugs in its JPEG reader that crafted files reach:
// a Huffman table of more than 256 symbols overflowed its heap, and a
// progressive file with a table redefined between scans indexed its symbol
// table at -36 (both found by tests/fuzz/fuzz_image). libjpeg-turbo is
// hardened and fuzzed upstream, and it is also what PIL decodes with, so
// JPEG pixels match Hugging Face's image processors. It runs strict: a
// warning (truncated or corrupt data that libjpeg would fill in) refuses the
// file, as does a file of more than kMaxJpegScans scans.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "data/image.h"

namespace mike::data {

inline constexpr int kMaxJpegScans = 1000;

// True when `bytes` start like a JPEG (the SOI marker).
bool looks_like_jpeg(const unsigned char* bytes, std::size_t size);

// Says why an image of this size may not be decoded ("" when it may);
// called with the header's size before any pixel memory is allocated.
using ImageSizeCheck = std::function<std::string(int width, int height)>;

// Decodes the JPEG `bytes` to RGB into `image`; false with the reason when
// it is damaged, unsupported, or refused by `size_check`.
bool decode_jpeg(const unsigned char* bytes, std::size_t size, const ImageSizeCheck& size_check, Image* image,
                 std::string* reason);

}  // namespace mike::data
