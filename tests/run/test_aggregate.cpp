// Means and record-level (cluster) bootstrap confidence intervals.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "run/aggregate.h"

using mike::cluster_bootstrap;

namespace {
// Row i gets its own record: the row-level bootstrap as a special case.
std::vector<std::string> one_record_per_row(std::size_t rows) {
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < rows; ++i) ids.push_back("row" + std::to_string(i));
  return ids;
}
}  // namespace

TEST_CASE("records that all score the same have a zero-width interval at the mean") {
  // Different row counts per record, the same value everywhere.
  auto a = cluster_bootstrap({"r1", "r1", "r2", "r3", "r3", "r3"}, {0.5, 0.5, 0.5, 0.5, 0.5, 0.5});
  CHECK(a.mean == 0.5);
  CHECK(a.ci_low == 0.5);
  CHECK(a.ci_high == 0.5);
  CHECK(a.n == 6);
  CHECK(a.records == 3);
}

TEST_CASE("the cluster bootstrap of three records has the interval enumeration gives") {
  // Records A = {1, 1}, B = {0}, C = {1, 0, 0, 0}: (S, C) = (2, 2), (0, 1), (1, 4).
  // The ratio estimator is the mean over all 7 rows: 3/7. Of the 27 equally
  // likely record draws, BBB gives 0/3 = 0 and AAA gives 6/6 = 1, each with
  // probability 1/27 = 3.7% > 2.5%, and every other draw lies strictly
  // between; so the 2.5% and 97.5% quantiles of the exact bootstrap
  // distribution are 0 and 1 (10,000 resamples draw BBB ~370 times, sd ~19).
  const std::vector<std::string> ids = {"A", "A", "B", "C", "C", "C", "C"};
  const std::vector<double> values = {1, 1, 0, 1, 0, 0, 0};
  auto clustered = cluster_bootstrap(ids, values);
  CHECK(clustered.mean == doctest::Approx(3.0 / 7.0));
  CHECK(clustered.records == 3);
  CHECK(clustered.n == 7);
  CHECK(clustered.ci_low == 0.0);
  CHECK(clustered.ci_high == 1.0);
  // Resampling rows instead: seven zeros have probability (4/7)^7 = 2.0% and
  // seven ones (3/7)^7 = 0.3%, both below 2.5%, so the row interval is
  // strictly inside [0, 1]: the row bootstrap understates the uncertainty.
  auto rows = cluster_bootstrap(one_record_per_row(values.size()), values);
  CHECK(rows.mean == doctest::Approx(3.0 / 7.0));
  CHECK(rows.ci_low > 0.0);
  CHECK(rows.ci_high < 1.0);
}

TEST_CASE("with perfectly correlated rows inside records the cluster interval is twice the row interval") {
  // 100 records of 4 identical rows each, half of them 1: resampling records
  // sees 100 independent values, resampling rows wrongly sees 400, so the
  // interval is sqrt(4) = 2 times wider: 1.96 * sqrt(0.25 / 100) = 0.098
  // per side against 0.049.
  std::vector<std::string> ids;
  std::vector<double> values;
  for (int r = 0; r < 100; ++r)
    for (int k = 0; k < 4; ++k) {
      ids.push_back("record" + std::to_string(r));
      values.push_back(r % 2);
    }
  auto clustered = cluster_bootstrap(ids, values);
  auto rows = cluster_bootstrap(one_record_per_row(values.size()), values);
  CHECK(clustered.mean == 0.5);
  CHECK(clustered.ci_high - clustered.mean == doctest::Approx(0.098).epsilon(0.1));
  CHECK(rows.ci_high - rows.mean == doctest::Approx(0.049).epsilon(0.1));
  CHECK((clustered.ci_high - clustered.ci_low) / (rows.ci_high - rows.ci_low) == doctest::Approx(2.0).epsilon(0.1));
}

TEST_CASE("the bootstrap is deterministic for a seed and shares its draws across series") {
  std::vector<std::string> ids;
  std::vector<double> pre, post;
  for (int i = 0; i < 60; ++i) {
    ids.push_back("r" + std::to_string(i / 3));
    pre.push_back(i % 5 == 0);
    post.push_back(i % 2);
  }
  mike::BootstrapOptions options;
  options.seed = 7;
  auto both = cluster_bootstrap(mike::totals_by_record(ids, {pre, post}), options);
  REQUIRE(both.size() == 2);
  // The same as one series at a time with the same seed: one index stream.
  auto post_alone = cluster_bootstrap(ids, post, options);
  CHECK(both[1].ci_low == post_alone.ci_low);
  CHECK(both[1].ci_high == post_alone.ci_high);
  auto again = cluster_bootstrap(ids, post, options);
  CHECK(again.ci_low == post_alone.ci_low);
  options.seed = 8;
  auto other_seed = cluster_bootstrap(ids, post, options);
  CHECK(other_seed.mean == post_alone.mean);
  CHECK(std::isnan(cluster_bootstrap(std::vector<std::string>{}, std::vector<double>{}).mean));
  CHECK(cluster_bootstrap(std::vector<std::string>{}, std::vector<double>{}).records == 0);
}

TEST_CASE("quantiles interpolate between order statistics as numpy does") {
  CHECK(mike::sorted_quantile({0, 1, 2, 3}, 0.5) == 1.5);
  CHECK(mike::sorted_quantile({0, 1, 2, 3}, 0.025) == doctest::Approx(0.075));
  CHECK(mike::sorted_quantile({4}, 0.975) == 4);
}
