// Fixture metric "exact": exact match of the post-edit generation and the
// post-edit token accuracy.
#include "mike/metric.h"
#include "mike/plugin.h"

namespace {

class ExactMetric : public mike::Metric {
 public:
  explicit ExactMetric(const mike::Config& config) : case_sensitive_(config.get_or<bool>("case_sensitive", true)) {}
  std::vector<std::string> names() const override { return {"exact_match", "token_acc"}; }
  std::map<std::string, double> compute(const mike::MetricInput& in) const override {
    auto fold = [&](std::string s) {
      if (!case_sensitive_)
        for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return s;
    };
    return {{"exact_match", fold(in.generated_post) == fold(in.target) ? 1.0 : 0.0},
            {"token_acc", in.post.token_accuracy}};
  }

 private:
  bool case_sensitive_;
};

}  // namespace

MIKE_METRIC_PLUGIN(ExactMetric, "exact", "0.1.0", "Exact match (host test fixture)", "case_sensitive: true\n")
