// caption: MIKE's Entity-Level Caption task. The generated caption passes when
// it names the entity (normalised mention of the target); BLEU-4 and ROUGE-L
// against the reference captions measure the rest of the caption, and
// token_acc is the teacher-forced accuracy on the reference caption and
// tf_exact is 1 iff all its tokens are the argmax (the EasyEdit/VLKEB
// conventions, kept for comparison). BLEU/ROUGE definitions: text_metrics.h.
#include "mike/metric.h"
#include "mike/plugin.h"
#include "mike/text_metrics.h"
#include "mike_plugin_default_config.h"

namespace {

class CaptionMetric : public mike::Metric {
 public:
  explicit CaptionMetric(const mike::Config&) {}
  std::vector<std::string> names() const override { return {"mention", "bleu4", "rouge_l", "token_acc", "tf_exact"}; }
  std::map<std::string, double> compute(const mike::MetricInput& in) const override {
    return {{"mention", mike::mentions(in.generated_post, in.target) ? 1.0 : 0.0},
            {"bleu4", mike::bleu4(in.generated_post, in.references)},
            {"rouge_l", mike::rouge_l(in.generated_post, in.references)},
            {"token_acc", in.post.token_accuracy},
            {"tf_exact", !in.post.target_tokens.empty() && in.post.predicted_tokens == in.post.target_tokens ? 1.0
                                                                                                           : 0.0}};
  }
};

}  // namespace

MIKE_METRIC_PLUGIN(CaptionMetric, "caption", "1.1.0",
                   "Entity mention, BLEU-4 and ROUGE-L of generated captions", kMikePluginDefaultConfig)
