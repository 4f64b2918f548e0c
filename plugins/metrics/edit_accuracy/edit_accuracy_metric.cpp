// edit_accuracy: did the model give the edit target? Reported three ways, always:
//   token_acc   — teacher-forced token accuracy on the target (the EasyEdit /
//                 VLKEB convention; known to overstate success),
//   tf_exact    — 1 iff every teacher-forced target token is the argmax
//                 (EasyEdit's exact_match option: correct.all(-1)),
//   exact_match — the greedy generation equals the target after normalisation.
#include "mike/metric.h"
#include "mike/plugin.h"
#include "mike/text_metrics.h"
#include "mike_plugin_default_config.h"

namespace {

class EditAccuracyMetric : public mike::Metric {
 public:
  explicit EditAccuracyMetric(const mike::Config&) {}
  std::vector<std::string> names() const override { return {"token_acc", "tf_exact", "exact_match"}; }
  std::map<std::string, double> compute(const mike::MetricInput& in) const override {
    const bool all_tokens = !in.post.target_tokens.empty() && in.post.predicted_tokens == in.post.target_tokens;
    return {{"token_acc", in.post.token_accuracy},
            {"tf_exact", all_tokens ? 1.0 : 0.0},
            {"exact_match", mike::exact_match(in.generated_post, in.target) ? 1.0 : 0.0}};
  }
};

}  // namespace

MIKE_METRIC_PLUGIN(EditAccuracyMetric, "edit_accuracy", "1.1.0",
                   "Teacher-forced token accuracy and exact match, and generation exact match on the edit target",
                   kMikePluginDefaultConfig)
