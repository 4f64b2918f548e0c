#pragma once
// A small deterministic RNG for the synthetic world. std:: distributions are
// implementation-defined, so they could change the bytes of a generated world
// between standard libraries; this one cannot.
#include <cstdint>
#include <utility>
#include <vector>

namespace mike::data {

// SplitMix64 (Steele, Lea, Flood 2014): fast, full-period, good enough for art.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  // A stream derived from a parent seed and a path of indices (entity, image,
  // ...), so work can be split across threads without changing any output.
  static Rng derive(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0) {
    Rng r(seed ^ 0x9E3779B97F4A7C15ULL);
    std::uint64_t s = r.next() ^ (a * 0xBF58476D1CE4E5B9ULL);
    Rng r2(s);
    s = r2.next() ^ (b * 0x94D049BB133111EBULL);
    Rng r3(s);
    s = r3.next() ^ (c * 0xD6E8FEB86659FD93ULL);
    return Rng(s);
  }

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  float uniform(float lo, float hi) { return lo + static_cast<float>(uniform()) * (hi - lo); }
  // Uniform integer in [0, n).
  int below(int n) { return static_cast<int>(next() % static_cast<std::uint64_t>(n)); }
  template <class T>
  const T& pick(const std::vector<T>& items) {
    return items[static_cast<std::size_t>(below(static_cast<int>(items.size())))];
  }
  template <class T>
  void shuffle(std::vector<T>& items) {
    for (std::size_t i = items.size(); i > 1; --i) {
      std::swap(items[i - 1], items[static_cast<std::size_t>(below(static_cast<int>(i)))]);
    }
  }

 private:
  std::uint64_t state_;
};

}  // namespace mike::data
