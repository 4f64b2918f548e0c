// locality: is the answer to an unrelated question unchanged by the edit?
//   top1_agreement — fraction of answer positions where the post-edit argmax
//                    token equals the pre-edit one (teacher forced on the
//                    locality answer, as EasyEdit/VLKEB compute locality),
//   topk_agreement — mean overlap |topk_pre ∩ topk_post| / k per position.
#include <algorithm>

#include "mike/error.h"
#include "mike/metric.h"
#include "mike/plugin.h"
#include "mike_plugin_default_config.h"

namespace {

class LocalityMetric : public mike::Metric {
 public:
  explicit LocalityMetric(const mike::Config& config) : top_k_(config.get<int>("top_k")) {
    if (top_k_ < 1) throw mike::ConfigError("metric locality: top_k must be >= 1, got " + std::to_string(top_k_));
  }
  std::vector<std::string> names() const override { return {"top1_agreement", "topk_agreement"}; }
  std::map<std::string, double> compute(const mike::MetricInput& in) const override {
    const auto& pre = in.pre.predicted_tokens;
    const auto& post = in.post.predicted_tokens;
    if (pre.size() != post.size() || pre.empty())
      throw mike::Error("metric locality: pre- and post-edit answers have " + std::to_string(pre.size()) + " and " +
                        std::to_string(post.size()) + " scored tokens; they must be equal and non-empty");
    double top1 = 0.0;
    for (std::size_t i = 0; i < pre.size(); ++i) top1 += pre[i] == post[i] ? 1.0 : 0.0;
    double topk = 0.0;
    const auto& pre_k = in.pre.topk_tokens;
    const auto& post_k = in.post.topk_tokens;
    if (pre_k.size() != pre.size() || post_k.size() != pre.size())
      throw mike::Error("metric locality: top-k tokens missing; score with top_k >= " + std::to_string(top_k_));
    for (std::size_t i = 0; i < pre.size(); ++i) {
      std::size_t k = std::min<std::size_t>(top_k_, std::min(pre_k[i].size(), post_k[i].size()));
      if (k == 0) throw mike::Error("metric locality: empty top-k list at answer position " + std::to_string(i));
      std::size_t shared = 0;
      for (std::size_t a = 0; a < k; ++a)
        shared += std::find(post_k[i].begin(), post_k[i].begin() + k, pre_k[i][a]) != post_k[i].begin() + k;
      topk += static_cast<double>(shared) / static_cast<double>(k);
    }
    double n = static_cast<double>(pre.size());
    return {{"top1_agreement", top1 / n}, {"topk_agreement", topk / n}};
  }

 private:
  int top_k_;
};

}  // namespace

MIKE_METRIC_PLUGIN(LocalityMetric, "locality", "1.0.0",
                   "Top-1 and top-k agreement of post- vs pre-edit predictions on locality answers",
                   kMikePluginDefaultConfig)
