#pragma once
// Aggregates per-sample metric values: mean and a 95% percentile-bootstrap
// confidence interval (Efron & Tibshirani 1993, ch. 13), deterministic for a
// given seed so reruns report identical intervals.
#include <cstdint>
#include <vector>

namespace mike {

struct Aggregate {
  double mean = 0.0;
  double ci_low = 0.0;   // 2.5th percentile of bootstrap means
  double ci_high = 0.0;  // 97.5th percentile
  std::int64_t n = 0;
};

Aggregate aggregate(const std::vector<double>& values, int resamples = 1000, std::uint64_t seed = 0);

}  // namespace mike
