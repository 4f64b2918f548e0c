// Mean and bootstrap confidence intervals.
#include <doctest/doctest.h>

#include <cmath>

#include "run/aggregate.h"

TEST_CASE("constant values have a zero-width interval at the mean") {
  auto a = mike::aggregate({0.5, 0.5, 0.5, 0.5});
  CHECK(a.mean == 0.5);
  CHECK(a.ci_low == 0.5);
  CHECK(a.ci_high == 0.5);
  CHECK(a.n == 4);
}

TEST_CASE("the bootstrap interval of a Bernoulli(0.5) sample has the normal-theory width") {
  std::vector<double> values;
  for (int i = 0; i < 400; ++i) values.push_back(i % 2);
  auto a = mike::aggregate(values, 2000, 7);
  CHECK(a.mean == 0.5);
  // Normal approximation: 1.96 * sqrt(0.25 / 400) = 0.049
  CHECK(a.ci_high - a.mean == doctest::Approx(0.049).epsilon(0.15));
  CHECK(a.mean - a.ci_low == doctest::Approx(0.049).epsilon(0.15));
  auto again = mike::aggregate(values, 2000, 7);
  CHECK(again.ci_low == a.ci_low);  // deterministic for a seed
  CHECK(std::isnan(mike::aggregate({}).mean));
}
