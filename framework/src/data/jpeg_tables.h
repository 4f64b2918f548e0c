#pragma once
// A check of JPEG bytes before stb_image decodes them. Debian's stb_image
// (v2.27) trusts a Huffman table's symbol count (DHT segment): a count over
// 256 writes past its tables, a heap overflow a crafted file in a dataset
// can trigger (found by tests/fuzz/fuzz_image; stb 2.28 adds the same check).
#include <cstddef>
#include <string>

namespace mike::data {

// True when `bytes` start like a JPEG (SOI marker, as stb_image detects one).
bool looks_like_jpeg(const unsigned char* bytes, std::size_t size);

// "" when every DHT segment of the JPEG `bytes` is within the limits
// stb_image relies on, else what is wrong with the first one that is not.
// Every FF C4 pair is checked as stb_image would read a DHT there, wherever
// it lies, so no parse of the file's structure can disagree with stb's.
std::string jpeg_huffman_table_problem(const unsigned char* bytes, std::size_t size);

}  // namespace mike::data
