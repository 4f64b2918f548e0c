#include "run/aggregate.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace mike {

Aggregate aggregate(const std::vector<double>& values, int resamples, std::uint64_t seed) {
  Aggregate out;
  out.n = static_cast<std::int64_t>(values.size());
  if (values.empty()) {
    out.mean = out.ci_low = out.ci_high = std::nan("");
    return out;
  }
  double n = static_cast<double>(values.size());
  out.mean = std::accumulate(values.begin(), values.end(), 0.0) / n;
  std::mt19937_64 rng(seed);
  std::vector<double> means(static_cast<std::size_t>(resamples));
  for (double& m : means) {
    double sum = 0.0;
    for (std::size_t i = 0; i < values.size(); ++i) sum += values[rng() % values.size()];
    m = sum / n;
  }
  std::sort(means.begin(), means.end());
  auto percentile = [&](double q) {
    double pos = q * static_cast<double>(means.size() - 1);
    auto lo = static_cast<std::size_t>(std::floor(pos));
    auto hi = std::min(lo + 1, means.size() - 1);
    return means[lo] + (pos - static_cast<double>(lo)) * (means[hi] - means[lo]);
  };
  out.ci_low = percentile(0.025);
  out.ci_high = percentile(0.975);
  return out;
}

}  // namespace mike
