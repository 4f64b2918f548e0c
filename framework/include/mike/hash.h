#pragma once
// 64-bit FNV-1a: the one content hash of mike (cache keys of pretrained
// models and layer statistics, hashed text features). A fingerprint, not a
// cryptographic hash: collisions need only be unlikely, not hard to construct.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mike/export.h"

namespace mike {

class MIKE_API Fnv1a64 {
 public:
  static constexpr std::uint64_t kOffsetBasis = 0xcbf29ce484222325ULL;
  static constexpr std::uint64_t kPrime = 0x100000001b3ULL;
  // A basis with one digit missing (14695981039346656037 is the standard one)
  // that mike's pretrained-model cache keys and IKE's trigram features have
  // always used; kept there so existing caches and results stay valid.
  static constexpr std::uint64_t kLegacyOffsetBasis = 1469598103934665603ULL;

  explicit Fnv1a64(std::uint64_t state = kOffsetBasis) : state_(state) {}
  // Byte-wise FNV-1a over `bytes` (the textbook definition).
  Fnv1a64& add_bytes(std::string_view bytes) {
    for (unsigned char c : bytes) mix(c);
    return *this;
  }
  // `bytes` then a separator, so that ("ab", "c") and ("a", "bc") differ.
  Fnv1a64& add_field(std::string_view bytes) {
    add_bytes(bytes);
    mix(0xff);
    return *this;
  }
  // Bulk data (tensor contents) 8 bytes per step: as strong for fingerprints
  // and 8x fewer multiplications than add_bytes.
  Fnv1a64& add_words(const void* data, std::size_t size);
  std::uint64_t value() const { return state_; }
  // 16 lower-case hex digits.
  std::string hex() const;

 private:
  void mix(std::uint64_t value) {
    state_ ^= value;
    state_ *= kPrime;
  }
  std::uint64_t state_;
};

}  // namespace mike
