#pragma once
// mike::Metric — turns one sample's pre-edit and post-edit outputs into named
// scalars. The runner aggregates them (mean, 95% bootstrap CI) across samples.
#include <map>
#include <string>
#include <vector>

#include "mike/component.h"
#include "mike/outputs.h"

namespace mike {

struct MetricInput {
  std::string probe;   // what was asked: "reliability", "t_generality", "t_locality", ...
  std::string target;  // expected answer (the edit target, or the locality answer)
  std::vector<std::string> references;  // reference texts (ELC captions); may be empty
  ScoreResult pre, post;                // teacher-forced outputs before / after the edit
  std::string generated_pre, generated_post;  // greedy generations before / after
};

class MIKE_API Metric : public Component {
 public:
  ~Metric() override;
  // Names of the scalars compute() returns, e.g. {"token_acc", "exact_match"}.
  virtual std::vector<std::string> names() const = 0;
  virtual std::map<std::string, double> compute(const MetricInput& input) const = 0;
};

}  // namespace mike
