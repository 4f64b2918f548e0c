#pragma once
// Aggregates per-sample metric values into a mean and a 95% confidence
// interval by the cluster (record-level) percentile bootstrap (Efron &
// Tibshirani 1993, ch. 13; Davison & Hinkley 1997, sec. 3.8).
//
// A record contributes several rows to a metric (I-Gen: one per held-out
// image; multi_step: one per step) and its rows are correlated, so the unit
// that is resampled is the record, not the row: each resample draws n of the
// n records with replacement and keeps all rows of every drawn record. The
// estimator is the ratio one, the mean over all rows of the (resampled)
// records, sum_i S_i / sum_i C_i with S_i, C_i the sum and number of record
// i's rows; without resampling it is the plain mean over rows. Resampling
// works on the per-record (S_i, C_i), so its cost does not grow with rows.
#include <cstdint>
#include <string>
#include <vector>

namespace mike {

struct BootstrapOptions {
  int resamples = 10000;
  std::uint64_t seed = 0;  // the same seed gives the same intervals
  double level = 0.95;
};

struct Aggregate {
  double mean = 0.0;     // over all rows (NaN when there are none)
  double ci_low = 0.0;   // (1 - level) / 2 quantile of the bootstrap means
  double ci_high = 0.0;  // (1 + level) / 2 quantile
  std::int64_t n = 0;        // rows
  std::int64_t records = 0;  // clusters (distinct record ids)
};

// Per-record sums and row counts of one or more series measured on the same
// rows (e.g. pre and post of a metric), records in order of first appearance.
struct RecordTotals {
  std::vector<std::string> record_ids;
  std::vector<double> counts;              // [record]
  std::vector<std::vector<double>> sums;   // [series][record]
};
// `series[s][row]` belongs to record `record_ids[row]`; every series has one
// value per row.
RecordTotals totals_by_record(const std::vector<std::string>& record_ids,
                              const std::vector<std::vector<double>>& series);

// One Aggregate per series of `totals`, all resampled with the same record
// draws (so pre and post cost one index stream).
std::vector<Aggregate> cluster_bootstrap(const RecordTotals& totals, const BootstrapOptions& options = {});
// One series: rows of `values` clustered by `record_ids`.
Aggregate cluster_bootstrap(const std::vector<std::string>& record_ids, const std::vector<double>& values,
                            const BootstrapOptions& options = {});

// The `q` quantile of `sorted` (linear interpolation between order
// statistics, Hyndman & Fan type 7, numpy's default).
double sorted_quantile(const std::vector<double>& sorted, double q);

// What summary.json states about its intervals.
inline constexpr const char* kCiMethod = "percentile bootstrap";
inline constexpr const char* kCiUnit = "record";
inline constexpr const char* kCiEstimator = "ratio: mean over all rows of the resampled records";

}  // namespace mike
