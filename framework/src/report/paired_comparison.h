#pragma once
// Paired comparison of two systems on the same records (docs/metrics.md,
// "Comparing systems"): the difference of their means, a paired
// record-level bootstrap CI, a two-sided sign-flip permutation p-value, and
// Holm's correction across the metrics of one table.
#include <cstdint>
#include <string>
#include <vector>

#include "run/aggregate.h"

namespace mike {

struct PairedComparison {
  bool paired = false;   // false: not the same records; why_not says how they differ
  std::string why_not;
  double difference = 0.0;  // mean_A - mean_B = sum_i (S_i^A - S_i^B) / sum_i C_i
  double ci_low = 0.0, ci_high = 0.0;  // paired percentile bootstrap (records resampled, A and B together)
  double p_value = 1.0;     // sign-flip permutation test, (1 + #{|D*| >= |D|}) / (resamples + 1)
  std::int64_t records = 0;
};

// `a` and `b` hold one series each (a metric's per-record sums and counts).
// They are paired when they cover the same record ids with the same row
// count per record; the order of records may differ.
PairedComparison compare_paired(const RecordTotals& a, const RecordTotals& b, const BootstrapOptions& options = {});

// Holm's step-down adjustment (Holm 1979) of `p`, returned in the input order:
// sorted ascending, p_(j) * (K - j + 1), made monotone, capped at 1.
std::vector<double> holm_adjust(const std::vector<double>& p);

inline constexpr const char* kPairedCiMethod = "paired percentile bootstrap over records";
inline constexpr const char* kPairedTestMethod = "two-sided sign-flip permutation test on per-record differences";

}  // namespace mike
