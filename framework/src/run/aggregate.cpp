#include "run/aggregate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "mike/error.h"
#include "run/resampler.h"

namespace mike {

RecordTotals totals_by_record(const std::vector<std::string>& record_ids,
                              const std::vector<std::vector<double>>& series) {
  RecordTotals totals;
  totals.sums.assign(series.size(), {});
  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t row = 0; row < record_ids.size(); ++row) {
    auto [it, added] = index.emplace(record_ids[row], totals.record_ids.size());
    if (added) {
      totals.record_ids.push_back(record_ids[row]);
      totals.counts.push_back(0.0);
      for (auto& sums : totals.sums) sums.push_back(0.0);
    }
    totals.counts[it->second] += 1.0;
    for (std::size_t s = 0; s < series.size(); ++s) {
      if (series[s].size() != record_ids.size())
        throw Error("totals_by_record: series " + std::to_string(s) + " has " + std::to_string(series[s].size()) +
                    " values for " + std::to_string(record_ids.size()) + " rows; this is a bug in the caller");
      totals.sums[s][it->second] += series[s][row];
    }
  }
  return totals;
}

double sorted_quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return std::numeric_limits<double>::quiet_NaN();
  const double position = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(position));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (position - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

std::vector<Aggregate> cluster_bootstrap(const RecordTotals& totals, const BootstrapOptions& options) {
  if (options.resamples < 1) throw Error("bootstrap: resamples must be >= 1, got " + std::to_string(options.resamples));
  const std::size_t n = totals.record_ids.size();
  const std::size_t series = totals.sums.size();
  std::vector<Aggregate> out(series);
  double rows = 0.0;
  for (double c : totals.counts) rows += c;
  for (std::size_t s = 0; s < series; ++s) {
    out[s].n = static_cast<std::int64_t>(rows);
    out[s].records = static_cast<std::int64_t>(n);
    if (n == 0) {
      out[s].mean = out[s].ci_low = out[s].ci_high = std::numeric_limits<double>::quiet_NaN();
      continue;
    }
    double sum = 0.0;
    for (double v : totals.sums[s]) sum += v;
    out[s].mean = sum / rows;
  }
  if (n == 0) return out;
  const auto resamples = static_cast<std::size_t>(options.resamples);
  std::vector<std::vector<double>> means(series, std::vector<double>(resamples));
  std::vector<double> sums(series);
  Resampler draw(options.seed);
  for (std::size_t b = 0; b < resamples; ++b) {
    std::fill(sums.begin(), sums.end(), 0.0);
    double count = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t r = draw.index(n);
      count += totals.counts[r];
      for (std::size_t s = 0; s < series; ++s) sums[s] += totals.sums[s][r];
    }
    for (std::size_t s = 0; s < series; ++s) means[s][b] = sums[s] / count;
  }
  const double tail = (1.0 - options.level) / 2.0;
  for (std::size_t s = 0; s < series; ++s) {
    std::sort(means[s].begin(), means[s].end());
    out[s].ci_low = sorted_quantile(means[s], tail);
    out[s].ci_high = sorted_quantile(means[s], 1.0 - tail);
  }
  return out;
}

Aggregate cluster_bootstrap(const std::vector<std::string>& record_ids, const std::vector<double>& values,
                            const BootstrapOptions& options) {
  return cluster_bootstrap(totals_by_record(record_ids, {values}), options).front();
}

}  // namespace mike
