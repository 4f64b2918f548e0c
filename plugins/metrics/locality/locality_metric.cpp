// locality: is the answer to an unrelated question unchanged by the edit?
// Ours, at the answer positions (teacher forced on the locality answer):
//   top1_agreement — fraction of answer positions where the post-edit argmax
//                    token equals the pre-edit one,
//   topk_agreement — mean overlap |topk_pre ∩ topk_post| / k per position.
// EasyEdit's multimodal editor (easyeditor/editors/multimodal_editor.py), over
// every position of the input (image, prompt and answer; the last
// min(|pre|, |post|) positions when an in-context editor made the post-edit
// input longer, aligned from the end as EasyEdit slices its logits):
//   easyedit       — T-Loc: fraction of positions whose argmax agrees,
//   easyedit_top10 — M-Loc: the top-10 tokens compared rank by rank, the
//                    fraction of (position, rank) pairs that agree.
// Both easyedit values are computed for T-Loc and M-Loc probes alike;
// EasyEdit reports the first for T-Loc and the second for M-Loc. Formulas:
// docs/metrics.md.
#include <algorithm>

#include "mike/error.h"
#include "mike/metric.h"
#include "mike/plugin.h"
#include "mike_plugin_default_config.h"

namespace {

constexpr std::size_t kEasyEditTopK = 10;  // EasyEdit's M-Loc: torch.topk(..., k=10)

using PositionTopK = std::vector<std::vector<std::int64_t>>;

// Agreement of the first `ranks` ranks of pre and post over their last
// min(|pre|, |post|) positions, each (position, rank) pair counted once.
double rank_agreement(const PositionTopK& pre, const PositionTopK& post, std::size_t ranks) {
  const std::size_t n = std::min(pre.size(), post.size());
  const std::size_t pre_skip = pre.size() - n, post_skip = post.size() - n;
  double agree = 0.0;
  for (std::size_t p = 0; p < n; ++p) {
    const auto& a = pre[pre_skip + p];
    const auto& b = post[post_skip + p];
    if (a.size() < ranks || b.size() < ranks)
      throw mike::Error("metric locality: position " + std::to_string(p) + " has " +
                        std::to_string(std::min(a.size(), b.size())) + " top tokens, fewer than the " +
                        std::to_string(ranks) + " EasyEdit's locality compares; set eval.position_top_k=" +
                        std::to_string(kEasyEditTopK));
    for (std::size_t r = 0; r < ranks; ++r) agree += a[r] == b[r] ? 1.0 : 0.0;
  }
  return agree / static_cast<double>(n * ranks);
}

class LocalityMetric : public mike::Metric {
 public:
  explicit LocalityMetric(const mike::Config& config) : top_k_(config.get<int>("top_k")) {
    if (top_k_ < 1) throw mike::ConfigError("metric locality: top_k must be >= 1, got " + std::to_string(top_k_));
  }
  std::vector<std::string> names() const override {
    return {"top1_agreement", "topk_agreement", "easyedit", "easyedit_top10"};
  }
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
    const auto& pre_all = in.pre.position_topk_tokens;
    const auto& post_all = in.post.position_topk_tokens;
    if (pre_all.empty() || post_all.empty())
      throw mike::Error("metric locality: the model returned no top tokens per input position "
                        "(ScoreResult::position_topk_tokens), which the easyedit values need; set "
                        "eval.position_top_k=10, or use a model that implements ScoreRequest::position_top_k");
    double n = static_cast<double>(pre.size());
    return {{"top1_agreement", top1 / n},
            {"topk_agreement", topk / n},
            {"easyedit", rank_agreement(pre_all, post_all, 1)},
            {"easyedit_top10", rank_agreement(pre_all, post_all, kEasyEditTopK)}};
  }

 private:
  int top_k_;
};

}  // namespace

MIKE_METRIC_PLUGIN(LocalityMetric, "locality", "1.1.0",
                   "Top-1 and top-k agreement of post- vs pre-edit predictions on locality answers, and EasyEdit's "
                   "all-position T-Loc / top-10 M-Loc",
                   kMikePluginDefaultConfig)
