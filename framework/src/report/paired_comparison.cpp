#include "report/paired_comparison.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include "run/resampler.h"

namespace mike {

namespace {

// Per-record (A sum, B sum, count) in A's record order, or why the two do
// not pair.
struct Pairs {
  std::vector<double> a, b, count;
  std::string why_not;
};

Pairs pair_records(const RecordTotals& a, const RecordTotals& b) {
  Pairs pairs;
  std::unordered_map<std::string, std::size_t> in_b;
  for (std::size_t i = 0; i < b.record_ids.size(); ++i) in_b.emplace(b.record_ids[i], i);
  std::size_t shared = 0;
  for (const std::string& id : a.record_ids) shared += in_b.count(id);
  if (shared != a.record_ids.size() || shared != b.record_ids.size()) {
    pairs.why_not = "not evaluated on the same records (" + std::to_string(a.record_ids.size()) + " and " +
                    std::to_string(b.record_ids.size()) + " records, " + std::to_string(shared) + " shared)";
    return pairs;
  }
  for (std::size_t i = 0; i < a.record_ids.size(); ++i) {
    const std::size_t j = in_b.at(a.record_ids[i]);
    if (a.counts[i] != b.counts[j]) {
      pairs.why_not = "record '" + a.record_ids[i] + "' has " + std::to_string(static_cast<long long>(a.counts[i])) +
                      " rows in one and " + std::to_string(static_cast<long long>(b.counts[j])) +
                      " in the other (different probes, e.g. another igen variant)";
      return pairs;
    }
    pairs.a.push_back(a.sums.at(0)[i]);
    pairs.b.push_back(b.sums.at(0)[j]);
    pairs.count.push_back(a.counts[i]);
  }
  return pairs;
}

}  // namespace

PairedComparison compare_paired(const RecordTotals& a, const RecordTotals& b, const BootstrapOptions& options) {
  PairedComparison out;
  Pairs pairs = pair_records(a, b);
  if (!pairs.why_not.empty()) {
    out.why_not = pairs.why_not;
    return out;
  }
  const std::size_t n = pairs.count.size();
  out.records = static_cast<std::int64_t>(n);
  if (n == 0) {
    out.why_not = "no records";
    return out;
  }
  out.paired = true;
  std::vector<double> d(n);
  for (std::size_t i = 0; i < n; ++i) d[i] = pairs.a[i] - pairs.b[i];
  const double rows = std::accumulate(pairs.count.begin(), pairs.count.end(), 0.0);
  out.difference = std::accumulate(d.begin(), d.end(), 0.0) / rows;

  // CI: resample records; both systems keep the same draw (paired).
  const auto resamples = static_cast<std::size_t>(std::max(1, options.resamples));
  std::vector<double> boot(resamples);
  Resampler draw(options.seed);
  for (double& value : boot) {
    double sum = 0.0, count = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t r = draw.index(n);
      sum += d[r];
      count += pairs.count[r];
    }
    value = sum / count;
  }
  std::sort(boot.begin(), boot.end());
  const double tail = (1.0 - options.level) / 2.0;
  out.ci_low = sorted_quantile(boot, tail);
  out.ci_high = sorted_quantile(boot, 1.0 - tail);

  // p: under H0 the systems are exchangeable within a record, so each
  // record's difference is as likely negated. The denominator sum C_i does
  // not change under flips, so |sum eps_i d_i| is compared directly; a
  // relative tolerance keeps ties (e.g. identical systems) counted as ties.
  const double observed = std::fabs(out.difference * rows);
  const double tolerance = 1e-12 * std::max(1.0, std::accumulate(d.begin(), d.end(), 0.0, [](double s, double x) {
                                              return s + std::fabs(x);
                                            }));
  Resampler signs(options.seed ^ 0x5349474e464c4950ULL);  // its own stream, not the bootstrap's
  std::size_t as_extreme = 0;
  for (std::size_t k = 0; k < resamples; ++k) {
    double flipped = 0.0;
    std::uint64_t bits = 0;  // 64 fair signs per draw
    for (std::size_t i = 0; i < n; ++i, bits >>= 1) {
      if (i % 64 == 0) bits = signs.next();
      flipped += (bits & 1) ? d[i] : -d[i];
    }
    as_extreme += std::fabs(flipped) >= observed - tolerance;
  }
  out.p_value = static_cast<double>(1 + as_extreme) / static_cast<double>(resamples + 1);
  return out;
}

std::vector<double> holm_adjust(const std::vector<double>& p) {
  const std::size_t k = p.size();
  std::vector<std::size_t> order(k);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return p[x] < p[y]; });
  std::vector<double> adjusted(k);
  double running = 0.0;
  for (std::size_t j = 0; j < k; ++j) {
    running = std::max(running, std::min(1.0, static_cast<double>(k - j) * p[order[j]]));
    adjusted[order[j]] = running;
  }
  return adjusted;
}

}  // namespace mike
