#pragma once
// A check of PNG bytes before stb_image decodes them. Debian's stb_image
// (v2.27) grows its buffer for an IDAT chunk to the length the chunk claims
// before it reads a byte of it, so a 200-byte PNG claiming a 1 GiB IDAT made
// it allocate 2 GiB (found by tests/fuzz/fuzz_image).
#include <cstddef>
#include <string>

namespace mike::data {

// True when `bytes` start with the PNG signature.
bool looks_like_png(const unsigned char* bytes, std::size_t size);

// "" when every chunk of the PNG `bytes` up to IEND fits in the file, else
// which chunk claims more bytes than are left.
std::string png_chunk_problem(const unsigned char* bytes, std::size_t size);

}  // namespace mike::data
