#include "human/rater_agreement.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <string>

#include "mike/error.h"

namespace mike {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Index of `value` in the sorted, duplicate-free `labels`.
template <typename T>
std::size_t label_index(const std::vector<T>& labels, T value) {
  return static_cast<std::size_t>(std::lower_bound(labels.begin(), labels.end(), value) - labels.begin());
}

template <typename T>
std::vector<T> sorted_unique(std::vector<T> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  const double mean_x = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double mean_y = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0.0, sxx = 0.0, syy = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mean_x) * (y[i] - mean_y);
    sxx += (x[i] - mean_x) * (x[i] - mean_x);
    syy += (y[i] - mean_y) * (y[i] - mean_y);
  }
  if (sxx == 0.0 || syy == 0.0) return kNaN;
  return sxy / std::sqrt(sxx * syy);
}

}  // namespace

double cohen_kappa(const std::vector<int>& rater_a, const std::vector<int>& rater_b, KappaWeights weights) {
  if (rater_a.size() != rater_b.size())
    throw DataError("cohen_kappa: the two raters labelled " + std::to_string(rater_a.size()) + " and " +
                    std::to_string(rater_b.size()) + " items; kappa needs both raters' labels of the same items");
  if (rater_a.empty()) throw DataError("cohen_kappa: no labelled items");
  std::vector<int> all(rater_a);
  all.insert(all.end(), rater_b.begin(), rater_b.end());
  const std::vector<int> labels = sorted_unique(std::move(all));
  const std::size_t k = labels.size();
  std::vector<double> observed(k * k, 0.0), margin_a(k, 0.0), margin_b(k, 0.0);
  for (std::size_t item = 0; item < rater_a.size(); ++item) {
    const std::size_t i = label_index(labels, rater_a[item]), j = label_index(labels, rater_b[item]);
    observed[i * k + j] += 1.0;
    margin_a[i] += 1.0;
    margin_b[j] += 1.0;
  }
  // Weights by label-index distance, not label value, as scikit-learn does.
  auto weight = [weights](std::size_t i, std::size_t j) {
    const double d = std::abs(static_cast<double>(i) - static_cast<double>(j));
    switch (weights) {
      case KappaWeights::kLinear:
        return d;
      case KappaWeights::kQuadratic:
        return d * d;
      case KappaWeights::kNone:
        break;
    }
    return i == j ? 0.0 : 1.0;
  };
  const double n = static_cast<double>(rater_a.size());
  double disagreement = 0.0, expected = 0.0;
  for (std::size_t i = 0; i < k; ++i)
    for (std::size_t j = 0; j < k; ++j) {
      disagreement += weight(i, j) * observed[i * k + j];
      expected += weight(i, j) * margin_a[i] * margin_b[j] / n;
    }
  if (expected == 0.0) return kNaN;  // one label only: chance agreement is perfect, kappa is 0/0
  return 1.0 - disagreement / expected;
}

double krippendorff_alpha(const std::vector<std::vector<std::optional<double>>>& ratings, AlphaLevel level) {
  const std::size_t units = ratings.empty() ? 0 : ratings.front().size();
  for (std::size_t r = 0; r < ratings.size(); ++r)
    if (ratings[r].size() != units)
      throw DataError("krippendorff_alpha: rater " + std::to_string(r) + " has " + std::to_string(ratings[r].size()) +
                      " units, rater 0 has " + std::to_string(units) +
                      "; give every rater one entry per unit (nullopt where not rated)");
  // Values of each unit, keeping only the pairable units (m_u >= 2).
  std::vector<std::vector<double>> unit_values;
  std::vector<double> all;
  for (std::size_t u = 0; u < units; ++u) {
    std::vector<double> values;
    for (const auto& rater : ratings)
      if (rater[u]) values.push_back(*rater[u]);
    if (values.size() < 2) continue;
    all.insert(all.end(), values.begin(), values.end());
    unit_values.push_back(std::move(values));
  }
  if (all.empty()) return kNaN;
  const std::vector<double> labels = sorted_unique(std::move(all));
  const std::size_t k = labels.size();
  // Coincidence matrix: each ordered pair of values within a unit adds
  // 1 / (m_u - 1), so every pairable value contributes exactly 1 to n.
  std::vector<double> o(k * k, 0.0);
  for (const auto& values : unit_values) {
    const double w = 1.0 / static_cast<double>(values.size() - 1);
    for (std::size_t a = 0; a < values.size(); ++a)
      for (std::size_t b = 0; b < values.size(); ++b)
        if (a != b) o[label_index(labels, values[a]) * k + label_index(labels, values[b])] += w;
  }
  std::vector<double> n_c(k, 0.0);
  for (std::size_t c = 0; c < k; ++c)
    for (std::size_t d = 0; d < k; ++d) n_c[c] += o[c * k + d];
  const double n = std::accumulate(n_c.begin(), n_c.end(), 0.0);
  auto delta2 = [&](std::size_t c, std::size_t d) {
    if (level == AlphaLevel::kNominal) return c == d ? 0.0 : 1.0;
    return (labels[c] - labels[d]) * (labels[c] - labels[d]);
  };
  double observed = 0.0, expected = 0.0;
  for (std::size_t c = 0; c < k; ++c)
    for (std::size_t d = 0; d < k; ++d) {
      observed += o[c * k + d] * delta2(c, d);
      expected += n_c[c] * n_c[d] * delta2(c, d);
    }
  if (expected == 0.0) return kNaN;  // all pairable values equal: no variation to agree on
  return 1.0 - (n - 1.0) * observed / expected;
}

std::vector<double> average_ranks(const std::vector<double>& values) {
  std::vector<std::size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  for (std::size_t start = 0; start < order.size();) {
    std::size_t end = start;
    while (end + 1 < order.size() && values[order[end + 1]] == values[order[start]]) ++end;
    // Positions start..end (0-based) hold ranks start+1..end+1; their mean:
    const double rank = 0.5 * static_cast<double>(start + end) + 1.0;
    for (std::size_t i = start; i <= end; ++i) ranks[order[i]] = rank;
    start = end + 1;
  }
  return ranks;
}

double spearman_rho(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size())
    throw DataError("spearman_rho: " + std::to_string(x.size()) + " and " + std::to_string(y.size()) +
                    " values; a correlation needs one pair per item");
  if (x.size() < 2) throw DataError("spearman_rho: needs at least 2 pairs, got " + std::to_string(x.size()));
  // NaN propagates as in scipy (and must not reach std::sort, which needs a strict weak order).
  auto has_nan = [](const std::vector<double>& v) {
    return std::any_of(v.begin(), v.end(), [](double e) { return std::isnan(e); });
  };
  if (has_nan(x) || has_nan(y)) return kNaN;
  return pearson(average_ranks(x), average_ranks(y));
}

}  // namespace mike
