#pragma once
// A check of BMP bytes before stb_image decodes them. stb_image reads past the
// end of a BMP's pixel array as zeros, so a 92-byte file whose header claims
// 65541 x 256 pixels decodes as a 16-megapixel black image: a truncated file
// accepted as valid, and an allocation the file's size does not bound (found
// by tests/fuzz/fuzz_image as a timeout).
#include <cstddef>
#include <string>

namespace mike::data {

// "" unless `bytes` are an uncompressed BMP (BI_RGB / BI_BITFIELDS, the kinds
// stb_image decodes) whose header asks for more pixel bytes than the file
// holds; then what is missing.
std::string bmp_pixel_data_problem(const unsigned char* bytes, std::size_t size);

}  // namespace mike::data
