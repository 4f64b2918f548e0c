#include "data/png_chunks.h"

#include <cstdint>
#include <algorithm>
#include <cstring>

namespace mike::data {

namespace {

constexpr unsigned char kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

std::uint32_t big_endian_u32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

std::string printable_type(const unsigned char* p) {
  std::string type;
  for (int i = 0; i < 4; ++i) type += (p[i] >= 0x20 && p[i] < 0x7f) ? static_cast<char>(p[i]) : '?';
  return type;
}

}  // namespace

bool looks_like_png(const unsigned char* bytes, std::size_t size) {
  return size >= sizeof kSignature && std::memcmp(bytes, kSignature, sizeof kSignature) == 0;
}

std::string png_chunk_problem(const unsigned char* bytes, std::size_t size) {
  // Each chunk: length (4), type (4), data (length), CRC (4).
  std::size_t at = sizeof kSignature;
  while (size - at >= 8) {
    const std::uint64_t length = big_endian_u32(bytes + at);
    const std::string type = printable_type(bytes + at + 4);
    const std::uint64_t left = size - at - 8;
    if (length > left)
      return "its " + type + " chunk at byte " + std::to_string(at) + " claims " + std::to_string(length) +
             " bytes, but only " + std::to_string(left) + " are left in the file";
    if (type == "IEND") return "";
    at += 8 + static_cast<std::size_t>(length) + std::min<std::uint64_t>(4, left - length);
  }
  return "";  // a file that ends early is stb's to refuse ("outofdata")
}

}  // namespace mike::data
