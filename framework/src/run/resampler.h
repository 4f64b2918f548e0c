#pragma once
// The random index stream of every bootstrap and permutation test in mike:
// SplitMix64 (Steele, Lea & Flood 2014) with Lemire's multiply-shift bound,
// fast (no modulo) and identical on every platform for a seed, so reruns
// report the same intervals and p-values.
#include <cstddef>
#include <cstdint>

namespace mike {

class Resampler {
 public:
  explicit Resampler(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n): the high 64 bits of next() * n (bias < n / 2^64).
  std::size_t index(std::size_t n) {
    return static_cast<std::size_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
 private:
  std::uint64_t state_;
};

}  // namespace mike
