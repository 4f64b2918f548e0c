#include "data/jpeg_tables.h"

#include <algorithm>

namespace mike::data {

namespace {

constexpr unsigned char kMarkerPrefix = 0xFF;
constexpr unsigned char kStartOfImage = 0xD8;
constexpr unsigned char kDefineHuffmanTable = 0xC4;
// A Huffman table holds at most 256 symbols (ITU T.81 B.2.4.2).
constexpr int kMaxHuffmanSymbols = 256;

// Reads bytes the way stb_image's stbi__get8 does: 0 past the end.
class ByteReader {
 public:
  ByteReader(const unsigned char* bytes, std::size_t size, std::size_t at) : bytes_(bytes), size_(size), at_(at) {}
  int get8() { return at_ < size_ ? bytes_[at_++] : 0; }
  int get16be() {
    int high = get8();
    return (high << 8) | get8();
  }
  void skip(std::size_t count) { at_ = count > size_ - std::min(at_, size_) ? size_ : at_ + count; }

 private:
  const unsigned char* bytes_;
  std::size_t size_;
  std::size_t at_;
};

// The DHT segment whose length field starts at `at`, read as stb_image's
// stbi__process_marker reads it: "" or the first oversized table.
std::string dht_problem(const unsigned char* bytes, std::size_t size, std::size_t at) {
  ByteReader reader(bytes, size, at);
  int remaining = reader.get16be() - 2;
  while (remaining > 0) {
    const int table = reader.get8();
    int symbols = 0;
    for (int i = 0; i < 16; ++i) symbols += reader.get8();
    if (symbols > kMaxHuffmanSymbols) {
      return "its Huffman table " + std::to_string(table & 15) + " (DHT segment at byte " + std::to_string(at - 2) +
             ") declares " + std::to_string(symbols) + " symbols, more than the " +
             std::to_string(kMaxHuffmanSymbols) + " a JPEG table can hold";
    }
    reader.skip(static_cast<std::size_t>(symbols));
    remaining -= 17 + symbols;
  }
  return "";
}

}  // namespace

bool looks_like_jpeg(const unsigned char* bytes, std::size_t size) {
  std::size_t at = 0;
  if (size == 0 || bytes[at++] != kMarkerPrefix) return false;
  while (at < size && bytes[at] == kMarkerPrefix) ++at;  // fill bytes, which stb skips
  return at < size && bytes[at] == kStartOfImage;
}

std::string jpeg_huffman_table_problem(const unsigned char* bytes, std::size_t size) {
  for (std::size_t at = 0; at + 1 < size; ++at) {
    if (bytes[at] != kMarkerPrefix || bytes[at + 1] != kDefineHuffmanTable) continue;
    if (std::string problem = dht_problem(bytes, size, at + 2); !problem.empty()) return problem;
  }
  return "";
}

}  // namespace mike::data
