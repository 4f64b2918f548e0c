// Paired comparisons of two systems on the same records: cases with a known answer.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "report/comparison_table.h"
#include "report/paired_comparison.h"

using namespace mike;

namespace {
// Record r has `rows` rows; system values per row from `value(r, k)`.
template <typename Value>
RecordTotals system(int records, int rows, Value value) {
  std::vector<std::string> ids;
  std::vector<double> values;
  for (int r = 0; r < records; ++r)
    for (int k = 0; k < rows; ++k) {
      ids.push_back("rec" + std::to_string(r));
      values.push_back(value(r, k));
    }
  return totals_by_record(ids, {values});
}
}  // namespace

TEST_CASE("identical systems differ by 0 with a zero-width CI and p = 1") {
  auto a = system(40, 3, [](int r, int k) { return (r * 7 + k) % 3 == 0 ? 1.0 : 0.0; });
  auto c = compare_paired(a, a);
  REQUIRE(c.paired);
  CHECK(c.records == 40);
  CHECK(c.difference == 0.0);
  CHECK(c.ci_low == 0.0);
  CHECK(c.ci_high == 0.0);
  CHECK(c.p_value == 1.0);
}

TEST_CASE("a system that wins on every record has a CI above 0 and the smallest p the test can give") {
  auto better = system(30, 2, [](int r, int) { return r % 4 == 0 ? 1.0 : 0.75; });
  auto worse = system(30, 2, [](int r, int) { return r % 4 == 0 ? 0.5 : 0.25; });
  auto c = compare_paired(better, worse);
  REQUIRE(c.paired);
  CHECK(c.difference == doctest::Approx(0.5));
  CHECK(c.ci_low > 0.0);
  // Only the all-plus and all-minus sign patterns are as extreme: 2 / 2^30,
  // so none of 10,000 flips is; p = 1 / 10,001.
  CHECK(c.p_value == doctest::Approx(1.0 / 10001.0));
  auto reverse = compare_paired(worse, better);
  CHECK(reverse.difference == doctest::Approx(-0.5));
  CHECK(reverse.ci_high < 0.0);
  CHECK(reverse.p_value == c.p_value);
}

TEST_CASE("the sign-flip p-value of three equal wins is the exact 2/8") {
  // d = (1, 1, 1): |sum of flipped d| >= 3 only for +++ and ---, 2 of 8 patterns.
  auto a = system(3, 1, [](int, int) { return 1.0; });
  auto b = system(3, 1, [](int, int) { return 0.0; });
  auto c = compare_paired(a, b);
  CHECK(c.difference == 1.0);
  CHECK(c.p_value == doctest::Approx(0.25).epsilon(0.06));  // Monte Carlo sd of 10,000 flips: 0.004
  CHECK(c.ci_low == 1.0);  // every resample of three wins is a win of 1
}

TEST_CASE("differences are record-weighted like the means: mean_A - mean_B over all rows") {
  // Record 0 has 1 row, record 1 has 3; A - B = (1 + 0) / 4 rows = 0.25.
  auto a = totals_by_record({"x", "y", "y", "y"}, {{1.0, 0.0, 0.0, 0.0}});
  auto b = totals_by_record({"y", "x", "y", "y"}, {{0.0, 0.0, 0.0, 0.0}});  // other row order, same records
  auto c = compare_paired(a, b);
  REQUIRE(c.paired);
  CHECK(c.difference == doctest::Approx(0.25));
}

TEST_CASE("systems on different records, or with different rows per record, are not paired and say why") {
  auto a = totals_by_record({"x", "y"}, {{1.0, 0.0}});
  auto b = totals_by_record({"x", "z"}, {{1.0, 0.0}});
  auto c = compare_paired(a, b);
  CHECK_FALSE(c.paired);
  CHECK(c.why_not == "not evaluated on the same records (2 and 2 records, 1 shared)");
  auto more_rows = totals_by_record({"x", "y", "y"}, {{1.0, 0.0, 1.0}});
  c = compare_paired(a, more_rows);
  CHECK_FALSE(c.paired);
  CHECK(c.why_not ==
        "record 'y' has 1 rows in one and 2 in the other (different probes, e.g. another igen variant)");
}

TEST_CASE("Holm adjusts p-values step-down and keeps their order") {
  // Sorted 0.01, 0.03, 0.04 -> 3 * 0.01, 2 * 0.03, max(0.06, 1 * 0.04).
  auto adjusted = holm_adjust({0.01, 0.04, 0.03});
  CHECK(adjusted[0] == doctest::Approx(0.03));
  CHECK(adjusted[1] == doctest::Approx(0.06));
  CHECK(adjusted[2] == doctest::Approx(0.06));
  CHECK(holm_adjust({0.5, 0.9})[1] == 1.0);  // capped at 1
  CHECK(holm_adjust({}).empty());
}

TEST_CASE("a comparison table shows both means, the paired CI, p and Holm's p, and unpaired rows say why") {
  std::map<std::string, RecordTotals> a, b;
  a["reliability.exact_match"] = system(30, 1, [](int, int) { return 1.0; });
  b["reliability.exact_match"] = system(30, 1, [](int, int) { return 0.0; });
  a["t_locality.top1_agreement"] = system(30, 1, [](int, int) { return 1.0; });
  b["t_locality.top1_agreement"] = system(29, 1, [](int, int) { return 1.0; });
  auto comparison = compare_systems("rome", a, "ft", b,
                                    {{"Rel EM", {"reliability.exact_match"}}, {"T-Loc", {"t_locality.top1_agreement"}},
                                     {"M-Loc", {"m_locality.top1_agreement"}}});
  REQUIRE(comparison.rows.size() == 2);  // M-Loc is in neither
  const std::string md = format_comparison(comparison);
  CHECK(md.find("### rome vs ft\n") != std::string::npos);
  CHECK(md.find("| metric | rome | ft | difference [95% CI] | p | p (Holm) | records |") != std::string::npos);
  CHECK(md.find("| Rel EM | 1.000 | 0.000 | +1.000 [+1.000, +1.000] * | <0.0001 | <0.0001 | 30 |") !=
        std::string::npos);
  CHECK(md.find("| T-Loc | 1.000 | 1.000 | not paired: not evaluated on the same records (30 and 29 records, 29 "
                "shared) | – | – | – |") != std::string::npos);
}

TEST_CASE("a report column pairs the metric each system shows in it, and names both when they differ") {
  // A VNA run shows Rel EM as exact_match, an ELC run as mention (report.cpp's columns).
  std::map<std::string, RecordTotals> vna, elc;
  vna["reliability.exact_match"] = system(20, 1, [](int r, int) { return r < 15 ? 1.0 : 0.0; });
  elc["reliability.mention"] = system(20, 1, [](int r, int) { return r < 5 ? 1.0 : 0.0; });
  elc["reliability.bleu4"] = system(20, 1, [](int, int) { return 0.5; });
  auto comparison = compare_systems("vna", vna, "elc", elc,
                                    {{"Rel EM", {"reliability.exact_match", "reliability.mention"}},
                                     {"Rel BLEU-4", {"reliability.bleu4"}}});
  REQUIRE(comparison.rows.size() == 1);  // BLEU-4: the VNA run has none
  CHECK(comparison.rows[0].metric_a == "reliability.exact_match");
  CHECK(comparison.rows[0].metric_b == "reliability.mention");
  CHECK(comparison.rows[0].result.paired);
  CHECK(comparison.rows[0].result.difference == doctest::Approx(0.5));
  const std::string md = format_comparison(comparison);
  CHECK(md.find("| Rel EM (reliability.exact_match vs reliability.mention) | 0.750 | 0.250 | +0.500 [") !=
        std::string::npos);
}
