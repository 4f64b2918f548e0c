// ike: in-context knowledge editing (Zheng et al. 2023, "Can We Edit Factual
// Knowledge by In-Context Learning?"), MIKE's IKE baseline. fit() keeps the
// train split as demonstrations; edit() retrieves the k most similar ones
// (cosine similarity of question embeddings, §3.2's demonstration
// organisation) and the wrapped model prepends them, most similar first, plus
// "New fact: the entity in this image is X." to every prompt it is asked
// about. No weight changes: restore_original() has nothing to undo.
//
// Sequential and multi-step protocols edit an already edited model. IKE's
// memory is its context, so an edit of an InContextModel does not nest a
// second wrapper (whose demonstrations would stack up): it wraps the same
// base model with one context holding every fact so far, oldest first, and
// the new edit's demonstrations. What does not fit max_prompt_tokens is
// dropped: demonstrations first (least similar first), then the oldest facts
// — IKE forgets in the order its context window forces.
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <numeric>

#include "mike/editor.h"
#include "mike/error.h"
#include "mike/hash.h"
#include "mike/plugin.h"
#include "mike_plugin_default_config.h"

namespace {

constexpr std::int64_t kTextEmbeddingSize = 1024;

std::string fill(std::string text, const std::string& field, const std::string& value) {
  const std::string marker = "{" + field + "}";
  for (std::size_t at = text.find(marker); at != std::string::npos; at = text.find(marker, at + value.size()))
    text.replace(at, marker.size(), value);
  return text;
}

// Hashed character trigrams of the lower-cased text, L2-normalised.
torch::Tensor text_embedding(const std::string& text) {
  std::string s = " ";
  for (char c : text) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  s += " ";
  torch::Tensor v = torch::zeros({kTextEmbeddingSize}, torch::kFloat64);
  auto* data = v.data_ptr<double>();
  for (std::size_t i = 0; i + 3 <= s.size(); ++i) {
    const std::uint64_t h =
        mike::Fnv1a64(mike::Fnv1a64::kLegacyOffsetBasis).add_bytes(std::string_view(s).substr(i, 3)).value();
    data[h % kTextEmbeddingSize] += 1.0;
  }
  return v / v.norm().clamp_min(1e-12);
}

// Prepends the same context to every prompt it forwards. `facts` are the new
// facts of every edit it stands for, oldest first (the context may hold only
// the newest of them).
class InContextModel : public mike::ForwardingModel {
 public:
  InContextModel(mike::Model& inner, std::vector<std::string> facts, std::string context,
                 std::map<std::string, double> stats)
      : ForwardingModel(inner), facts_(std::move(facts)), context_(std::move(context)), stats_(std::move(stats)) {}
  mike::Model& base() const { return inner_; }
  const std::vector<std::string>& facts() const { return facts_; }
  std::vector<mike::ScoreResult> score(const std::vector<mike::ScoreRequest>& batch) override {
    return inner_.score(with_context(batch));
  }
  torch::Tensor loss(const std::vector<mike::ScoreRequest>& batch) override { return inner_.loss(with_context(batch)); }
  torch::Tensor target_log_probs(const std::vector<mike::ScoreRequest>& batch) override {
    return inner_.target_log_probs(with_context(batch));
  }
  std::vector<mike::TokenLayout> token_layout(const std::vector<mike::ScoreRequest>& batch) override {
    return inner_.token_layout(with_context(batch));
  }
  std::vector<std::string> generate(const std::vector<mike::ModelInput>& batch,
                                    const mike::GenerateOptions& options) override {
    std::vector<mike::ModelInput> inputs = batch;
    for (auto& input : inputs) input.prompt = context_ + input.prompt;
    return inner_.generate(inputs, options);
  }
  std::map<std::string, double> stats() const override { return stats_; }

 private:
  std::vector<mike::ScoreRequest> with_context(std::vector<mike::ScoreRequest> batch) const {
    for (auto& request : batch) request.input.prompt = context_ + request.input.prompt;
    return batch;
  }
  std::vector<std::string> facts_;
  std::string context_;
  std::map<std::string, double> stats_;
};

class IkeEditor : public mike::Editor {
 public:
  explicit IkeEditor(const mike::Config& config)
      : k_(config.get<int>("k")),
        embedding_(config.get<std::string>("embedding")),
        embedding_layer_(config.get<int>("embedding_layer")),
        demo_template_(config.get<std::string>("demo_template")),
        new_fact_template_(config.get<std::string>("new_fact_template")),
        max_prompt_tokens_(config.get<int>("max_prompt_tokens")) {
    if (k_ < 0) throw mike::ConfigError("editor ike: `k` must be >= 0, got " + std::to_string(k_));
    if (embedding_ != "text" && embedding_ != "model")
      throw mike::ConfigError("editor ike: `embedding` is '" + embedding_ + "'; use text or model");
    if (new_fact_template_.find("{target}") == std::string::npos)
      throw mike::ConfigError("editor ike: `new_fact_template` has no {target} (where the new answer goes)");
    if (max_prompt_tokens_ < 1) throw mike::ConfigError("editor ike: `max_prompt_tokens` must be >= 1");
    if (embedding_layer_ < 0) throw mike::ConfigError("editor ike: `embedding_layer` must be >= 0 (an LM block index)");
  }

  // Demonstrations come from the train split when the dataset has one; the
  // embeddings take one forward per record, so nothing is cached.
  mike::FitUse fit_use() const override { return mike::FitUse::optional; }

  void fit(mike::Model& model, const std::vector<mike::TrainingEdit>& train, mike::FitProgress& progress) override {
    demos_.clear();
    std::vector<torch::Tensor> embeddings;
    for (const mike::TrainingEdit& example : train) {
      const mike::EditRequest& request = example.edit;
      demos_.push_back(fill(fill(demo_template_, "prompt", request.input.prompt), "target", request.target));
      embeddings.push_back(embed(model, request.input));
      progress.update(static_cast<std::int64_t>(embeddings.size()), static_cast<std::int64_t>(train.size()),
                      "demonstrations");
    }
    demo_embeddings_ = embeddings.empty() ? torch::Tensor() : torch::stack(embeddings);
  }

  std::unique_ptr<mike::EditedModel> edit(mike::Model& model, const std::vector<mike::EditRequest>& requests) override {
    if (requests.size() != 1)
      throw mike::Error("editor ike: edit() takes one request at a time (got " + std::to_string(requests.size()) +
                        "); use the single, sequential or multi_step protocol");
    const mike::EditRequest& request = requests[0];
    // Editing an IKE-edited model: extend its facts on the same base model.
    mike::Model* base = &model;
    std::vector<std::string> facts;
    if (const auto* earlier = dynamic_cast<const InContextModel*>(&model)) {
      base = &earlier->base();
      facts = earlier->facts();
    }
    facts.push_back(fill(new_fact_template_, "target", request.target));
    std::vector<std::int64_t> ranked;  // demo indices, most similar first
    std::vector<double> similarity;
    if (demo_embeddings_.defined() && k_ > 0) {
      const torch::Tensor sims = demo_embeddings_.mv(embed(*base, request.input));
      const auto [values, order] = sims.topk(std::min<std::int64_t>(k_, sims.size(0)));
      for (std::int64_t i = 0; i < order.size(0); ++i) {
        ranked.push_back(order[i].item<std::int64_t>());
        similarity.push_back(values[i].item<double>());
      }
    }
    // Fit the context: drop the least similar demonstrations first, then the
    // oldest facts; the newest fact always stays. `dropped` counts removals in
    // that order; each removes whole lines, so the token count never grows
    // with it and a binary search finds the fewest removals that fit (a
    // sequential run of T edits would otherwise re-count its context O(T)
    // times per edit).
    const std::size_t demo_count = ranked.size();
    const std::size_t most_dropped = demo_count + facts.size() - 1;
    auto context_after = [&](std::size_t dropped) {
      std::string text;
      const std::size_t demos_kept = demo_count - std::min(dropped, demo_count);
      for (std::size_t d = 0; d < demos_kept; ++d) text += demos_[static_cast<std::size_t>(ranked[d])];
      for (std::size_t f = dropped > demo_count ? dropped - demo_count : 0; f < facts.size(); ++f) text += facts[f];
      return text;
    };
    auto tokens_after = [&](std::size_t dropped) {
      return base->count_tokens(context_after(dropped) + request.input.prompt);
    };
    std::size_t dropped = 0;
    std::int64_t tokens = tokens_after(0);
    if (tokens > max_prompt_tokens_) {
      std::size_t fits = most_dropped;  // the smallest removal count known to fit, once checked
      tokens = tokens_after(fits);
      if (tokens <= max_prompt_tokens_) {
        std::size_t too_few = 0;  // known not to fit
        while (fits - too_few > 1) {
          const std::size_t middle = too_few + (fits - too_few) / 2;
          const std::int64_t middle_tokens = tokens_after(middle);
          if (middle_tokens <= max_prompt_tokens_) {
            fits = middle;
            tokens = middle_tokens;
          } else {
            too_few = middle;
          }
        }
      }
      dropped = fits;
    }
    const std::string context = context_after(dropped);
    const std::size_t first_fact = dropped > demo_count ? dropped - demo_count : 0;
    ranked.resize(demo_count - std::min(dropped, demo_count));
    similarity.resize(ranked.size());
    if (tokens > max_prompt_tokens_)
      throw mike::DataError("editor ike: the new fact and prompt of edit '" + request.id +
                            "' alone are more than max_prompt_tokens = " + std::to_string(max_prompt_tokens_) +
                            " tokens (or than the model's context)" +
                            "; raise editor.max_prompt_tokens (within the model's context) or shorten the prompt");
    std::map<std::string, double> stats{{"demos", static_cast<double>(ranked.size())},
                                        {"context_tokens", static_cast<double>(tokens)},
                                        {"facts_in_context", static_cast<double>(facts.size() - first_fact)},
                                        {"facts_dropped", static_cast<double>(first_fact)}};
    if (!similarity.empty()) {
      stats["similarity_top"] = similarity.front();
      stats["similarity_last"] = similarity.back();
    }
    return std::make_unique<InContextModel>(*base, std::move(facts), context, stats);
  }

 private:
  torch::Tensor embed(mike::Model& model, const mike::ModelInput& input) const {
    if (embedding_ == "text") return text_embedding(input.prompt);
    // Mean activation over the input's tokens (image included): the prompt
    // is scored with a one-token continuation the mean then leaves out.
    torch::NoGradGuard no_grad;
    torch::Tensor mean;
    const std::string tap = mike::edit_site(model, embedding_layer_, "editor ike: embedding_layer").block_output_tap;
    mike::TapHandle handle = model.add_tap(tap, [&](const std::string&, const torch::Tensor& x) {
      if (x.dim() != 3 || x.size(0) != 1 || x.size(1) < 2)
        throw mike::ModelError("editor ike: the output of LM block " + std::to_string(embedding_layer_) + " ('" + tap +
                               "') must give [1, tokens, dim] activations");
      mean = x[0].slice(0, 0, x.size(1) - 1).mean(0).to(torch::kCPU, torch::kFloat64);
      return x;
    });
    model.score({{input, ".", 1}});
    if (!mean.defined()) throw mike::ModelError("editor ike: the embedding tap '" + tap + "' never fired");
    return mean / mean.norm().clamp_min(1e-12);
  }

  int k_;
  std::string embedding_;
  int embedding_layer_;  // LM block whose output embeds the input (embedding: model)
  std::string demo_template_, new_fact_template_;
  int max_prompt_tokens_;
  std::vector<std::string> demos_;
  torch::Tensor demo_embeddings_;  // [demos, dim], unit rows
};

}  // namespace

MIKE_EDITOR_PLUGIN(IkeEditor, "ike", "1.0.0",
                   "IKE: in-context editing with the k most similar train demonstrations and the new fact",
                   kMikePluginDefaultConfig)
