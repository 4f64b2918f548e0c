// serac: semi-parametric editing with a retrieval-augmented counterfactual
// model (Mitchell et al. 2022, "Memory-Based Model Editing at Scale"), one of
// MIKE's editors. Edits go into an explicit memory; nothing of the base
// model changes. For every query, the scope classifier (scope_classifier.h,
// §3.1) scores it against every stored edit; when the best edit's
// probability exceeds `scope_threshold` the counterfactual model
// (counterfactual_model.h, §3.2) answers it with that edit's fact in its
// prompt, otherwise the base model answers it untouched (§3, eq. 1):
//   f(x) = h_cf(edit*, x) if p(in scope | x, edit*) > threshold else f_base(x),
//   edit* = argmax over the memory of p(in scope | x, edit).
// fit() trains both parts on the train split: the classifier on its in-scope
// and out-of-scope pairs, the counterfactual model on its in-scope rows.
//
// Sequential and multi-step runs edit an edited model: the new edit joins a
// copy of the same memory over the same base model, so a memory of T edits
// is one wrapper, and restoring the newest edit leaves the older ones whole.
#include <torch/torch.h>

#include <cmath>

#include "counterfactual_model.h"
#include "fitted_state.h"
#include "mike/editor.h"
#include "mike/error.h"
#include "mike/plugin.h"
#include "mike_plugin_default_config.h"
#include "scope_classifier.h"

namespace {

using mike::serac::CounterfactualExample;
using mike::serac::input_features;
using mike::serac::ScopeClassifier;

constexpr const char* kEditor = "serac";
constexpr std::size_t kFeatureBatch = 32;  // requests per feature forward during fit
const std::string kClassifierPrefix = "classifier.";
const std::string kCounterfactualPrefix = "counterfactual.";

// What fit() learned, shared by every edited model of this editor.
struct Fitted {
  ScopeClassifier classifier;
  mike::ParameterSnapshot counterfactual;  // the counterfactual model's tuned parameter values
};

// What every edited model needs of the editor's settings.
struct Routing {
  int classifier_layer = 0;
  double logit_threshold = 0;  // logit of scope_threshold
};

// Whether two train edits are about one entity (an edit without an entity
// id is only its own).
bool same_entity(const mike::EditRequest& a, const mike::EditRequest& b) {
  return &a == &b || (!a.entity.empty() && a.entity == b.entity);
}

// Features of requests in batches of kFeatureBatch.
torch::Tensor batched_features(mike::Model& model, const std::vector<mike::ScoreRequest>& requests, int layer,
                               mike::FitProgress& progress, std::int64_t total) {
  std::vector<torch::Tensor> parts;
  for (std::size_t start = 0; start < requests.size(); start += kFeatureBatch) {
    const std::vector<mike::ScoreRequest> chunk(requests.begin() + static_cast<std::ptrdiff_t>(start),
                                                requests.begin() + static_cast<std::ptrdiff_t>(
                                                                       std::min(requests.size(), start + kFeatureBatch)));
    parts.push_back(input_features(model, chunk, layer));
    progress.update(static_cast<std::int64_t>(start + chunk.size()), total, "classifier features");
  }
  return torch::cat(parts);
}

// The memory editor's view of a model: an explicit memory of edits over an
// untouched base model, routed per row.
class SeracModel : public mike::ForwardingModel {
 public:
  SeracModel(mike::Model& base, std::shared_ptr<const Fitted> fitted, Routing routing, std::vector<std::string> facts,
             torch::Tensor memory, std::map<std::string, double> stats)
      : ForwardingModel(base),
        fitted_(std::move(fitted)),
        routing_(std::move(routing)),
        facts_(std::move(facts)),
        memory_(std::move(memory)),
        stats_(std::move(stats)) {}

  mike::Model& base() const { return inner_; }
  const std::vector<std::string>& facts() const { return facts_; }
  const torch::Tensor& memory() const { return memory_; }
  std::map<std::string, double> stats() const override { return stats_; }

  std::vector<mike::ScoreResult> score(const std::vector<mike::ScoreRequest>& batch) override {
    std::vector<mike::ScoreResult> results;
    const std::vector<int> routes = route(input_features(inner_, batch, routing_.classifier_layer, &results));
    const std::vector<std::size_t> in_scope = rows_in_scope(routes);
    if (in_scope.empty()) return results;
    std::vector<mike::ScoreResult> answered =
        by_counterfactual([&] { return inner_.score(with_facts(batch, routes, in_scope)); });
    for (std::size_t k = 0; k < in_scope.size(); ++k) results[in_scope[k]] = std::move(answered[k]);
    return results;
  }

  // The in-scope rows' part is the counterfactual model's, computed with its
  // weights swapped in and detached: it is no function of the base model's
  // parameters. Out-of-scope rows stay differentiable as the base model's.
  torch::Tensor loss(const std::vector<mike::ScoreRequest>& batch) override {
    const std::vector<int> routes = route(features_of(batch));
    const std::vector<std::size_t> in_scope = rows_in_scope(routes);
    if (in_scope.empty()) return inner_.loss(batch);
    const std::vector<std::size_t> out_of_scope = rows_out_of_scope(routes);
    const std::vector<mike::ScoreRequest> answered_rows = with_facts(batch, routes, in_scope);
    const double answered_tokens = static_cast<double>(target_tokens(inner_.token_layout(answered_rows)));
    torch::Tensor total = by_counterfactual([&] { return inner_.loss(answered_rows).detach(); }) * answered_tokens;
    double tokens = answered_tokens;
    if (!out_of_scope.empty()) {
      const std::vector<mike::ScoreRequest> rows = subset(batch, out_of_scope);
      const double base_tokens = static_cast<double>(target_tokens(inner_.token_layout(rows)));
      total = total + inner_.loss(rows) * base_tokens;
      tokens += base_tokens;
    }
    return total / tokens;
  }

  torch::Tensor target_log_probs(const std::vector<mike::ScoreRequest>& batch) override {
    const std::vector<int> routes = route(features_of(batch));
    const std::vector<std::size_t> in_scope = rows_in_scope(routes);
    if (in_scope.empty()) return inner_.target_log_probs(batch);
    const std::vector<std::size_t> out_of_scope = rows_out_of_scope(routes);
    const std::vector<mike::ScoreRequest> answered_rows = with_facts(batch, routes, in_scope);
    const torch::Tensor answered =
        by_counterfactual([&] { return inner_.target_log_probs(answered_rows).detach(); });
    torch::Tensor untouched;
    if (!out_of_scope.empty()) untouched = inner_.target_log_probs(subset(batch, out_of_scope));
    // Back into request order, each row's target positions in one piece.
    const std::vector<std::int64_t> answered_lengths = row_target_lengths(inner_.token_layout(answered_rows));
    const std::vector<std::int64_t> untouched_lengths =
        out_of_scope.empty() ? std::vector<std::int64_t>{}
                             : row_target_lengths(inner_.token_layout(subset(batch, out_of_scope)));
    std::vector<torch::Tensor> pieces(batch.size());
    std::int64_t at = 0;
    for (std::size_t k = 0; k < in_scope.size(); at += answered_lengths[k], ++k)
      pieces[in_scope[k]] = answered.slice(0, at, at + answered_lengths[k]);
    at = 0;
    for (std::size_t k = 0; k < out_of_scope.size(); at += untouched_lengths[k], ++k)
      pieces[out_of_scope[k]] = untouched.slice(0, at, at + untouched_lengths[k]);
    return torch::cat(pieces);
  }

  std::vector<mike::TokenLayout> token_layout(const std::vector<mike::ScoreRequest>& batch) override {
    const std::vector<int> routes = route(features_of(batch));
    const std::vector<std::size_t> in_scope = rows_in_scope(routes);
    std::vector<mike::TokenLayout> layouts = inner_.token_layout(batch);
    if (in_scope.empty()) return layouts;
    const std::vector<mike::TokenLayout> answered = inner_.token_layout(with_facts(batch, routes, in_scope));
    for (std::size_t k = 0; k < in_scope.size(); ++k) layouts[in_scope[k]] = answered[k];
    return layouts;
  }

  std::vector<std::string> generate(const std::vector<mike::ModelInput>& batch,
                                    const mike::GenerateOptions& options) override {
    std::vector<mike::ScoreRequest> prompts;
    for (const mike::ModelInput& input : batch) prompts.push_back({input, "."});  // only the prompt's features count
    const std::vector<int> routes = route(features_of(prompts));
    const std::vector<std::size_t> in_scope = rows_in_scope(routes), out_of_scope = rows_out_of_scope(routes);
    std::vector<std::string> out(batch.size());
    if (!out_of_scope.empty()) {
      std::vector<mike::ModelInput> inputs;
      mike::GenerateOptions base_options = options;
      base_options.known_tokens.clear();
      for (std::size_t i : out_of_scope) {
        inputs.push_back(batch[i]);
        if (!options.known_tokens.empty()) base_options.known_tokens.push_back(options.known_tokens.at(i));
      }
      const std::vector<std::string> text = inner_.generate(inputs, base_options);
      for (std::size_t k = 0; k < out_of_scope.size(); ++k) out[out_of_scope[k]] = text[k];
    }
    if (!in_scope.empty()) {
      std::vector<mike::ModelInput> inputs;
      for (std::size_t i : in_scope)
        inputs.push_back(mike::serac::with_fact(batch[i], facts_[static_cast<std::size_t>(routes[i])]));
      // Known tokens are the answers of whatever scored the caller's prompts;
      // the counterfactual model decodes its own.
      mike::GenerateOptions answered_options = options;
      answered_options.known_tokens.clear();
      const std::vector<std::string> text = by_counterfactual([&] { return inner_.generate(inputs, answered_options); });
      for (std::size_t k = 0; k < in_scope.size(); ++k) out[in_scope[k]] = text[k];
    }
    return out;
  }

 private:
  torch::Tensor features_of(const std::vector<mike::ScoreRequest>& batch) {
    return input_features(inner_, batch, routing_.classifier_layer);
  }

  // Per row: the index of the stored edit it falls under, or -1.
  std::vector<int> route(const torch::Tensor& features) const {
    torch::NoGradGuard no_grad;
    const torch::Tensor logits = fitted_->classifier.logits(fitted_->classifier.embed(features), memory_);
    const auto [best, which] = logits.max(1);
    std::vector<int> routes;
    for (std::int64_t r = 0; r < features.size(0); ++r)
      routes.push_back(best[r].item<double>() > routing_.logit_threshold ? static_cast<int>(which[r].item<std::int64_t>())
                                                                          : -1);
    return routes;
  }

  // `call()` run by the counterfactual model: its weights swapped in for the call.
  template <class Call>
  auto by_counterfactual(Call call) -> decltype(call()) {
    mike::serac::SwappedWeights counterfactual(inner_, fitted_->counterfactual);
    return call();
  }

  static std::vector<std::size_t> rows_in_scope(const std::vector<int>& routes) {
    std::vector<std::size_t> rows;
    for (std::size_t i = 0; i < routes.size(); ++i)
      if (routes[i] >= 0) rows.push_back(i);
    return rows;
  }
  static std::vector<std::size_t> rows_out_of_scope(const std::vector<int>& routes) {
    std::vector<std::size_t> rows;
    for (std::size_t i = 0; i < routes.size(); ++i)
      if (routes[i] < 0) rows.push_back(i);
    return rows;
  }
  static std::vector<mike::ScoreRequest> subset(const std::vector<mike::ScoreRequest>& batch,
                                                const std::vector<std::size_t>& rows) {
    std::vector<mike::ScoreRequest> out;
    for (std::size_t i : rows) out.push_back(batch[i]);
    return out;
  }
  std::vector<mike::ScoreRequest> with_facts(const std::vector<mike::ScoreRequest>& batch, const std::vector<int>& routes,
                                             const std::vector<std::size_t>& rows) const {
    std::vector<mike::ScoreRequest> out;
    for (std::size_t i : rows) out.push_back(mike::serac::with_fact(batch[i], facts_[static_cast<std::size_t>(routes[i])]));
    return out;
  }
  static std::vector<std::int64_t> row_target_lengths(const std::vector<mike::TokenLayout>& layouts) {
    std::vector<std::int64_t> lengths;
    for (const mike::TokenLayout& l : layouts) lengths.push_back(l.target_begin >= 0 ? l.length - l.target_begin : 0);
    return lengths;
  }
  static std::int64_t target_tokens(const std::vector<mike::TokenLayout>& layouts) {
    std::int64_t n = 0;
    for (std::int64_t length : row_target_lengths(layouts)) n += length;
    return n;
  }

  std::shared_ptr<const Fitted> fitted_;
  Routing routing_;
  std::vector<std::string> facts_;  // per stored edit, oldest first: its fact as the counterfactual model reads it
  torch::Tensor memory_;            // [edits, features]: the stored edits' classifier embeddings
  std::map<std::string, double> stats_;
};

class SeracEditor : public mike::Editor {
 public:
  explicit SeracEditor(const mike::Config& config)
      : classifier_layer_(config.get<int>("classifier_layer")),
        scope_threshold_(config.get<double>("scope_threshold")),
        fact_template_(config.get<std::string>("fact_template")),
        counterfactual_params_(config.get<std::vector<std::string>>("counterfactual_params")) {
    classifier_training_.steps = config.get<int>("classifier_steps");
    classifier_training_.lr = config.get<double>("classifier_lr");
    counterfactual_training_.steps = config.get<int>("fit_steps");
    counterfactual_training_.batch_size = config.get<int>("fit_batch_size");
    counterfactual_training_.lr = config.get<double>("fit_lr");
    counterfactual_training_.invented_name_fraction = config.get<double>("invented_name_fraction");
    const auto seed = config.get<std::int64_t>("fit_seed");
    if (classifier_layer_ < 0)
      throw mike::ConfigError("editor serac: `classifier_layer` must be >= 0 (an LM block index)");
    if (!(scope_threshold_ > 0 && scope_threshold_ < 1))
      throw mike::ConfigError("editor serac: `scope_threshold` must be a probability in (0, 1), got " +
                              std::to_string(scope_threshold_));
    if (fact_template_.find("{target}") == std::string::npos)
      throw mike::ConfigError("editor serac: `fact_template` has no {target} (where the edit's new answer goes)");
    if (classifier_training_.steps < 1 || counterfactual_training_.steps < 1)
      throw mike::ConfigError("editor serac: `classifier_steps` and `fit_steps` must be >= 1");
    if (counterfactual_training_.batch_size < 1) throw mike::ConfigError("editor serac: `fit_batch_size` must be >= 1");
    if (!(classifier_training_.lr > 0) || !(counterfactual_training_.lr > 0) || !std::isfinite(classifier_training_.lr) ||
        !std::isfinite(counterfactual_training_.lr))
      throw mike::ConfigError("editor serac: `classifier_lr` and `fit_lr` must be finite and > 0");
    if (!(counterfactual_training_.invented_name_fraction >= 0 && counterfactual_training_.invented_name_fraction <= 1))
      throw mike::ConfigError("editor serac: `invented_name_fraction` must be in [0, 1]");
    if (seed < 0) throw mike::ConfigError("editor serac: `fit_seed` must be >= 0");
    counterfactual_training_.seed = static_cast<std::uint64_t>(seed);
    counterfactual_training_.fact_template = fact_template_;
  }

  mike::FitUse fit_use() const override { return mike::FitUse::required; }
  bool supports_batch() const override { return true; }

  void fit(mike::Model& model, const std::vector<mike::TrainingEdit>& train, mike::FitProgress& progress) override {
    if (train.empty()) throw mike::DataError("editor serac: fit() needs at least one train edit");
    mike::ScoreRequest text_probe;  // a fact and a question without an image, answered with the fact's name
    text_probe.input.prompt = mike::serac::fact_for(fact_template_, train.front().edit.target) + "What is it?";
    text_probe.target = train.front().edit.target;
    const std::vector<std::string> tuned = mike::serac::tuned_parameter_names(
        model, counterfactual_params_, text_probe, "editor serac: counterfactual_params");

    // Every input of the train split once: each edit's own input, then its
    // in-scope and out-of-scope ones; `owner`/`in_scope` say whose and which.
    std::vector<mike::ScoreRequest> inputs;
    std::vector<std::size_t> owner;
    std::vector<bool> in_scope;
    std::vector<std::size_t> edit_positions;  // where each edit's own input is
    for (std::size_t e = 0; e < train.size(); ++e) {
      edit_positions.push_back(inputs.size());
      inputs.push_back({train[e].edit.input, train[e].edit.target});
      owner.push_back(e);
      in_scope.push_back(true);
      for (const mike::ScoreRequest& r : train[e].in_scope) {
        inputs.push_back(r);
        owner.push_back(e);
        in_scope.push_back(true);
      }
      for (const mike::ScoreRequest& r : train[e].out_of_scope) {
        inputs.push_back(r);
        owner.push_back(e);
        in_scope.push_back(false);
      }
    }
    const auto feature_steps = static_cast<std::int64_t>(inputs.size());
    const std::int64_t total = feature_steps + 1 + counterfactual_training_.steps;
    const torch::Tensor features = batched_features(model, inputs, classifier_layer_, progress, total);

    // The classifier's pairs: an input is in the scope of every train edit of
    // its entity when it is in its own edit's scope; all else is out of scope
    // (other entities asked the same questions are the hard negatives).
    const torch::Tensor edit_features = features.index_select(
        0, torch::tensor(std::vector<std::int64_t>(edit_positions.begin(), edit_positions.end()), torch::kInt64));
    std::vector<float> label_values(inputs.size() * train.size(), 0.0F);
    for (std::size_t i = 0; i < inputs.size(); ++i)
      for (std::size_t e = 0; e < train.size(); ++e)
        if (in_scope[i] && same_entity(train[owner[i]].edit, train[e].edit)) label_values[i * train.size() + e] = 1.0F;
    const torch::Tensor labels =
        torch::from_blob(label_values.data(), {features.size(0), edit_features.size(0)}, torch::kFloat32).clone();
    auto fitted = std::make_shared<Fitted>();
    fitted->classifier = ScopeClassifier(features.size(1));
    const mike::serac::ClassifierFit classifier = fitted->classifier.train(features, edit_features, labels, classifier_training_);
    char status[128];
    std::snprintf(status, sizeof status, "classifier: in-scope %.2f, out-of-scope %.2f right", classifier.positive_accuracy,
                  classifier.negative_accuracy);
    progress.update(feature_steps + 1, total, status);

    std::vector<CounterfactualExample> examples;
    for (std::size_t i = 0; i < inputs.size(); ++i)
      if (in_scope[i]) examples.push_back({inputs[i].input, inputs[i].target, train[owner[i]].edit.target});
    fitted->counterfactual = mike::serac::train_counterfactual(model, tuned, examples, counterfactual_training_, progress,
                                                                feature_steps + 1, total)
                                 .weights;
    fitted_ = std::move(fitted);
  }

  mike::FittedState fitted_state() const override {
    if (!fitted_) return {};
    mike::FittedState state;
    state["classifier_layer"] = torch::tensor(std::vector<std::int64_t>{classifier_layer_}, torch::kInt64);
    fitted_->classifier.save(state, kClassifierPrefix);
    for (const auto& [name, value] : fitted_->counterfactual) state[kCounterfactualPrefix + name] = value.clone();
    return state;
  }

  void load_fitted(const mike::FittedState& state) override {
    const torch::Tensor& layer = mike::site_gradients::fitted_entry(state, "classifier_layer", kEditor);
    if (layer.scalar_type() != torch::kInt64 || layer.numel() != 1 || layer.item<std::int64_t>() != classifier_layer_)
      throw mike::Error("editor serac: the fitted state was trained for another `classifier_layer` than this config's");
    auto fitted = std::make_shared<Fitted>();
    fitted->classifier.load(state, kClassifierPrefix, kEditor);
    for (const auto& [name, value] : state) {
      if (name.rfind(kCounterfactualPrefix, 0) != 0) continue;
      if (!value.is_floating_point() || !torch::isfinite(value).all().item<bool>())
        throw mike::Error("editor serac: fitted tensor '" + name + "' is not a finite floating-point tensor");
      fitted->counterfactual.emplace(name.substr(kCounterfactualPrefix.size()), value.clone());
    }
    if (fitted->counterfactual.empty())
      throw mike::Error("editor serac: the fitted state has no counterfactual model (no tensor named '" +
                        kCounterfactualPrefix + "...')");
    fitted_ = std::move(fitted);
  }

  std::unique_ptr<mike::EditedModel> edit(mike::Model& model, const std::vector<mike::EditRequest>& requests) override {
    if (!fitted_)
      throw mike::Error("editor serac: edit() before fit(); serac is trained on the train split first (`mike fit`, or "
                        "`mike run`, which fits before the first edit)");
    if (requests.empty()) throw mike::Error("editor serac: edit() called with no requests");
    mike::Model* base = &model;
    std::vector<std::string> facts;
    torch::Tensor memory;
    if (const auto* earlier = dynamic_cast<const SeracModel*>(&model)) {
      base = &earlier->base();
      facts = earlier->facts();
      memory = earlier->memory();
    }
    check_counterfactual_fits(*base);
    std::vector<mike::ScoreRequest> inputs;
    for (const mike::EditRequest& r : requests) {
      inputs.push_back({r.input, r.target});
      facts.push_back(mike::serac::fact_for(fact_template_, r.target));
    }
    torch::Tensor added;
    {
      torch::NoGradGuard no_grad;
      added = fitted_->classifier.embed(input_features(*base, inputs, classifier_layer_));
    }
    memory = memory.defined() ? torch::cat({memory, added}) : added;
    const double own_logit = [&] {
      torch::NoGradGuard no_grad;
      return fitted_->classifier.logits(added.slice(0, 0, 1), added.slice(0, 0, 1)).item<double>();
    }();
    Routing routing{classifier_layer_, std::log(scope_threshold_ / (1 - scope_threshold_))};
    std::map<std::string, double> stats{{"memory_edits", static_cast<double>(facts.size())},
                                        {"edit_scope_logit", own_logit}};
    return std::make_unique<SeracModel>(*base, fitted_, std::move(routing), std::move(facts), std::move(memory),
                                        std::move(stats));
  }

 private:
  // A cached state names the parameters it tuned; the model must have them,
  // in the same shapes (the cache key includes the model, but a state can be
  // loaded by hand).
  void check_counterfactual_fits(mike::Model& model) const {
    for (const auto& [name, value] : fitted_->counterfactual) {
      torch::Tensor live;
      try {
        live = model.parameter(name);
      } catch (const mike::Error&) {
        throw mike::Error("editor serac: the fitted counterfactual model tunes '" + name +
                          "', which this model does not have; fit again for this model (`mike fit --force`)");
      }
      if (live.sizes() != value.sizes())
        throw mike::Error("editor serac: the fitted counterfactual model's '" + name + "' is " +
                          mike::shape_string(value) + " but the model's is " + mike::shape_string(live) +
                          "; fit again for this model (`mike fit --force`)");
    }
  }

  int classifier_layer_;
  double scope_threshold_;
  std::string fact_template_;
  std::vector<std::string> counterfactual_params_;
  mike::serac::ClassifierTraining classifier_training_;
  mike::serac::CounterfactualTraining counterfactual_training_;
  std::shared_ptr<const Fitted> fitted_;
};

}  // namespace

MIKE_EDITOR_PLUGIN(SeracEditor, "serac", "1.0.0",
                   "SERAC: an edit memory, a scope classifier and a counterfactual model trained on the train split",
                   kMikePluginDefaultConfig)
