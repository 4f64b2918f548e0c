// Fnv1a64 (mike/hash.h). Its own file, free of LibTorch, so that
// mike-plugin-seal (framework/seal) can compile it without linking the SDK.
#include "mike/hash.h"

#include <cstdio>
#include <cstring>

namespace mike {

Fnv1a64& Fnv1a64::add_words(const void* data, std::size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t word;
    std::memcpy(&word, bytes + i, 8);
    mix(word);
  }
  for (; i < size; ++i) mix(bytes[i]);
  return *this;
}

std::string Fnv1a64::hex() const {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(state_));
  return buffer;
}

}  // namespace mike
