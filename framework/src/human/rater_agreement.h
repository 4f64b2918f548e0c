#pragma once
// Agreement statistics for `mike human import` (issue 19): how far the human
// raters of the ELC captions agree with each other, and how well their scores
// follow the automatic metrics. A human evaluation whose raters disagree says
// little, so the report prints agreement beside every human score.
//
// - Cohen's kappa (Cohen 1960; weighted: Cohen 1968) for two raters, with the
//   semantics of scikit-learn's cohen_kappa_score, so numbers match what
//   readers compute from a released rating sheet.
// - Krippendorff's alpha (Krippendorff 2011, "Computing Krippendorff's
//   Alpha-Reliability", coincidence-matrix method) for any number of raters
//   and missing ratings, which is the normal shape of a crowd rating sheet.
// - Spearman's rho (as scipy.stats.spearmanr) for human score vs. metric.
//
// Undefined statistics are NaN, never a made-up 0 or 1: the report shows
// "n/a" rather than a number nobody measured.
#include <optional>
#include <vector>

namespace mike {

enum class KappaWeights { kNone, kLinear, kQuadratic };

// Cohen's kappa 1 - sum(w * observed) / sum(w * expected) of two raters'
// labels of the same items. The label set is the sorted union of the observed
// values and the weights are distances between label *indices* in that set
// (|i - j| linear, (i - j)^2 quadratic), as in scikit-learn. NaN when the
// expected disagreement is 0, i.e. both raters used one and the same label
// (scikit-learn returns nan there too). Throws DataError when the two lists
// differ in length or are empty.
double cohen_kappa(const std::vector<int>& rater_a, const std::vector<int>& rater_b,
                   KappaWeights weights = KappaWeights::kNone);

enum class AlphaLevel { kNominal, kInterval };

// Krippendorff's alpha = 1 - (n - 1) * sum o_ck d2_ck / sum n_c n_k d2_ck
// (Krippendorff 2011, eq. for the coincidence matrix o), d2 = [c != k]
// (nominal) or (c - k)^2 (interval). `ratings[rater][unit]`, nullopt =
// missing; units with fewer than two values are not pairable and dropped.
// NaN when no value is pairable or the pairable values show no expected
// disagreement (all equal). Throws DataError when raters have different unit
// counts.
double krippendorff_alpha(const std::vector<std::vector<std::optional<double>>>& ratings, AlphaLevel level);

// Spearman's rho: the Pearson correlation of the average ranks of x and y (as
// scipy.stats.spearmanr). NaN when either side is constant or holds a NaN. Throws DataError
// on a size mismatch or fewer than two values.
double spearman_rho(const std::vector<double>& x, const std::vector<double>& y);

// 1-based ranks of `values` (no NaN); tied values share the mean of their ranks.
std::vector<double> average_ranks(const std::vector<double>& values);

}  // namespace mike
