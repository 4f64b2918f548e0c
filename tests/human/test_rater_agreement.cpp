// Rater agreement statistics: hand-computed cases, Krippendorff's published
// example, and scikit-learn / scipy on generated rating sets.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <set>
#include <sstream>

#include "human/rater_agreement.h"
#include "mike/error.h"
#include "process.h"

using namespace mike;

namespace {
constexpr std::nullopt_t kMissing = std::nullopt;
}  // namespace

TEST_CASE("cohen_kappa matches hand-computed values and weights by label index, not label value") {
  // a = 0 1 1, b = 0 1 0: p_o = 2/3, p_e = 1/3 * 2/3 + 2/3 * 1/3 = 4/9,
  // kappa = (2/3 - 4/9) / (1 - 4/9) = 0.4.
  CHECK(cohen_kappa({0, 1, 1}, {0, 1, 0}) == doctest::Approx(0.4).epsilon(1e-12));
  // Labels {1, 2, 10} have indices {0, 1, 2}; a = 0 1 2, b = 0 2 2 (indices).
  // One disagreement at distance 1; margins a = (1,1,1), b = (1,0,2), so the
  // expected disagreement sum_ij w_ij a_i b_j / 3 is 6/3 (none), 9/3
  // (linear) and 15/3 (quadratic). Weighting by value (|2 - 10| = 8) would
  // give 0.4545 for linear instead of 2/3.
  const std::vector<int> a{1, 2, 10}, b{1, 10, 10};
  CHECK(cohen_kappa(a, b, KappaWeights::kNone) == doctest::Approx(1.0 - 1.0 / 2.0).epsilon(1e-12));
  CHECK(cohen_kappa(a, b, KappaWeights::kLinear) == doctest::Approx(1.0 - 1.0 / 3.0).epsilon(1e-12));
  CHECK(cohen_kappa(a, b, KappaWeights::kQuadratic) == doctest::Approx(1.0 - 1.0 / 5.0).epsilon(1e-12));
  CHECK(cohen_kappa({3, 1, 2, 2}, {3, 1, 2, 2}, KappaWeights::kQuadratic) == doctest::Approx(1.0).epsilon(1e-12));
}

TEST_CASE("cohen_kappa refuses mismatched or empty ratings and is NaN when both raters use one label") {
  CHECK_THROWS_AS(cohen_kappa({1, 2, 3}, {1, 2}), DataError);
  CHECK_THROWS_AS(cohen_kappa({}, {}), DataError);
  // No expected disagreement: kappa is 0/0, as in scikit-learn.
  CHECK(std::isnan(cohen_kappa({4, 4, 4}, {4, 4, 4})));
  CHECK(std::isnan(cohen_kappa({4, 4, 4}, {4, 4, 4}, KappaWeights::kLinear)));
  // Constant but different raters: p_o = p_e = 0, so kappa is defined and 0.
  CHECK(cohen_kappa({1, 1, 1}, {2, 2, 2}) == doctest::Approx(0.0).epsilon(1e-12));
}

TEST_CASE("krippendorff_alpha reproduces Krippendorff's 2011 example: 4 coders, 12 units, missing values") {
  // Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the
  // reliability data with missing values; published alpha 0.743 (nominal)
  // and 0.849 (interval). Unit 12 has a single value and is not pairable.
  const auto m = kMissing;
  const std::vector<std::vector<std::optional<double>>> coders{
      {1, 2, 3, 3, 2, 1, 4, 1, 2, m, m, m},
      {1, 2, 3, 3, 2, 2, 4, 1, 2, 5, m, 3},
      {m, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, m},
      {1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, m},
  };
  CHECK(std::abs(krippendorff_alpha(coders, AlphaLevel::kNominal) - 0.743) < 0.0005);
  CHECK(std::abs(krippendorff_alpha(coders, AlphaLevel::kInterval) - 0.849) < 0.0005);
}

TEST_CASE("krippendorff_alpha matches a hand-computed coincidence matrix and drops unpairable units") {
  // Units (A, B): (1,1) (1,2) (3,3) and a fourth rated by A only (7, -).
  // Unit 4 is dropped; each pair unit adds 1 / (m_u - 1) = 1 per ordered
  // pair: o_11 = 2, o_12 = o_21 = 1, o_33 = 2, so n_1 = 3, n_2 = 1, n_3 = 2,
  // n = 6.
  // Nominal:  D_o = o_12 + o_21 = 2; sum n_c n_k [c != k] = 2 (3*1 + 3*2 + 1*2) = 22;
  //           alpha = 1 - 5 * 2 / 22 = 6/11.
  // Interval: D_o = 2 * 1^2 = 2; sum n_c n_k (c - k)^2 = 2 (3*1*1 + 3*2*4 + 1*2*1) = 58;
  //           alpha = 1 - 5 * 2 / 58 = 24/29.
  const std::vector<std::vector<std::optional<double>>> ratings{{1, 1, 3, 7}, {1, 2, 3, kMissing}};
  CHECK(krippendorff_alpha(ratings, AlphaLevel::kNominal) == doctest::Approx(6.0 / 11.0).epsilon(1e-12));
  CHECK(krippendorff_alpha(ratings, AlphaLevel::kInterval) == doctest::Approx(24.0 / 29.0).epsilon(1e-12));
}

TEST_CASE("krippendorff_alpha refuses ragged ratings and is NaN without pairable values or variation") {
  CHECK_THROWS_AS(krippendorff_alpha({{1, 2, 3}, {1, 2}}, AlphaLevel::kNominal), DataError);
  CHECK(std::isnan(krippendorff_alpha({}, AlphaLevel::kNominal)));
  // Every unit has one value only.
  CHECK(std::isnan(krippendorff_alpha({{1, kMissing, 3}, {kMissing, 2, kMissing}}, AlphaLevel::kInterval)));
  // All pairable values equal (the 9 is alone in its unit): no expected disagreement.
  CHECK(std::isnan(krippendorff_alpha({{2, 2, 9}, {2, 2, kMissing}}, AlphaLevel::kNominal)));
}

TEST_CASE("average_ranks gives tied values the mean of their 1-based ranks") {
  CHECK(average_ranks({3.0, 1.0, 3.0, 2.0}) == std::vector<double>{3.5, 1.0, 3.5, 2.0});
  CHECK(average_ranks({5.0, 5.0, 5.0}) == std::vector<double>{2.0, 2.0, 2.0});
  CHECK(average_ranks({}).empty());
}

TEST_CASE("spearman_rho matches a hand-computed value and refuses or returns NaN where undefined") {
  // No ties: rho = 1 - 6 sum d^2 / (n (n^2 - 1)) = 1 - 6 * 2 / 60 = 0.8.
  CHECK(spearman_rho({1, 2, 3, 4}, {10, 30, 20, 40}) == doctest::Approx(0.8).epsilon(1e-12));
  CHECK(spearman_rho({1, 2, 3}, {9, 4, 1}) == doctest::Approx(-1.0).epsilon(1e-12));
  CHECK_THROWS_AS(spearman_rho({1, 2, 3}, {1, 2}), DataError);
  CHECK_THROWS_AS(spearman_rho({1}, {1}), DataError);
  CHECK(std::isnan(spearman_rho({1, 2, 3}, {5, 5, 5})));
  CHECK(std::isnan(spearman_rho({1, 2, std::nan("")}, {1, 2, 3})));
}

namespace {
struct RatingCase {
  std::vector<int> a, b;     // two raters' labels of the same captions
  std::vector<double> x, y;  // a human score and a metric score per caption
};

// Deterministic rating sets: 2-5 labels, some with gaps in the label values
// (weights go by index), rater b agreeing with a about 60% of the time.
std::vector<RatingCase> generated_rating_cases(int count) {
  std::uint64_t state = 0x5eed19;
  auto next = [&](std::uint64_t bound) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (state >> 33) % bound;
  };
  const std::vector<int> gapped{1, 3, 4, 7, 10};
  const std::vector<std::size_t> sizes{5, 8, 13, 30, 64, 200};
  std::vector<RatingCase> cases;
  for (int i = 0; i < count; ++i) {
    const std::size_t labels = 2 + i % 4, size = sizes[i % sizes.size()];
    auto label = [&](std::uint64_t index) { return i % 3 == 0 ? gapped[index] : static_cast<int>(index) + 1; };
    RatingCase c;
    for (std::size_t item = 0; item < size; ++item) {
      const std::uint64_t index = next(labels);
      c.a.push_back(label(index));
      c.b.push_back(next(10) < 6 ? label(index) : label(next(labels)));
      c.x.push_back(c.a.back());
      // Metric scores on a coarse grid (ties) or near-continuous, loosely following the human score.
      c.y.push_back(i % 2 ? static_cast<double>(next(8)) / 4.0 : c.a.back() + static_cast<double>(next(1000)) / 300.0);
    }
    cases.push_back(std::move(c));
  }
  return cases;
}
}  // namespace

TEST_CASE("cohen_kappa and spearman_rho equal scikit-learn and scipy on 60 generated rating sets") {
  const auto cases = generated_rating_cases(60);
  const std::string dir = test::make_temp_dir("rater_agreement_sklearn");
  std::string lines;
  for (const RatingCase& c : cases)
    lines += nlohmann::json{{"a", c.a}, {"b", c.b}, {"x", c.x}, {"y", c.y}}.dump() + "\n";
  test::write_file(dir + "/cases.jsonl", lines);
  auto r =
      test::run_command("/usr/bin/python3 -W ignore " MIKE_SOURCE_DIR "/tests/human/rater_agreement_reference.py " +
                        dir + "/cases.jsonl");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err, " (needs Debian's python3-sklearn; ./bootstrap.sh installs it)");
  std::istringstream out(r.out);
  std::string line;
  int compared = 0, one_sided_label = 0, weights_differ = 0;
  auto check_value = [](double got, const nlohmann::json& expected) {
    if (expected.is_null())
      CHECK(std::isnan(got));
    else
      CHECK(got == doctest::Approx(expected.get<double>()).epsilon(1e-9));
  };
  for (const RatingCase& c : cases) {
    REQUIRE(std::getline(out, line));
    const auto expected = nlohmann::json::parse(line);
    INFO("a: ", nlohmann::json(c.a).dump(), " b: ", nlohmann::json(c.b).dump());
    check_value(cohen_kappa(c.a, c.b, KappaWeights::kNone), expected.at("none"));
    check_value(cohen_kappa(c.a, c.b, KappaWeights::kLinear), expected.at("linear"));
    check_value(cohen_kappa(c.a, c.b, KappaWeights::kQuadratic), expected.at("quadratic"));
    check_value(spearman_rho(c.x, c.y), expected.at("rho"));
    ++compared;
    one_sided_label += std::set<int>(c.a.begin(), c.a.end()) != std::set<int>(c.b.begin(), c.b.end());
    weights_differ += !expected.at("none").is_null() && !expected.at("linear").is_null() &&
                      std::abs(expected.at("none").get<double>() - expected.at("linear").get<double>()) > 1e-3;
  }
  CHECK(compared == 60);
  // The sets exercise what distinguishes the variants: a label used by one
  // rater only, and weightings that change the value.
  CHECK(one_sided_label >= 5);
  CHECK(weights_differ >= 20);
}
