// Shared implementations behind the SDK's Model, TapRegistry, Editor and
// Corpus types (defaults every model/editor plugin inherits, written once here).
#include <cstdio>
#include <cstring>

#include "mike/corpus.h"
#include "mike/editor.h"
#include "mike/hash.h"
#include "mike/error.h"
#include "mike/metric.h"
#include "mike/model.h"
#include "mike/taps.h"

#include <torch/torch.h>

namespace mike {

std::string shape_string(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

std::int64_t parameter_count(Model& model) {
  std::int64_t n = 0;
  for (const std::string& name : model.parameter_names()) n += model.parameter(name).numel();
  return n;
}

std::vector<std::int64_t> greedy_prefix(const ScoreResult& score) {
  std::vector<std::int64_t> known;
  const std::size_t n = std::min(score.predicted_tokens.size(), score.target_tokens.size());
  for (std::size_t i = 0; i < n; ++i) {
    // Greedy decoding emits the prediction at i; it is fed the target's token
    // only while the two agree, so the prefix ends at the first disagreement.
    known.push_back(score.predicted_tokens[i]);
    if (score.predicted_tokens[i] != score.target_tokens[i]) return known;
  }
  if (n == score.target_tokens.size() && n > 0 && score.next_token >= 0) known.push_back(score.next_token);
  return known;
}

EditSite edit_site(const Model& model, int block, const std::string& key) {
  const std::vector<EditSite> sites = model.edit_sites();
  if (sites.empty())
    throw ConfigError(key + ": the model declares no edit sites (Model::edit_sites), so editors cannot find its "
                      "LM MLPs; use a model that does (see `mike plugins info <model>`)");
  for (const EditSite& site : sites)
    if (site.block == block) return site;
  throw ConfigError(key + ": the model has no LM block " + std::to_string(block) + " (its edit sites are blocks " +
                    std::to_string(sites.front().block) + ".." + std::to_string(sites.back().block) +
                    "); pick layers the model has (see `mike plugins info <model>`)");
}

std::vector<TokenLayout> Model::token_layout(const std::vector<ScoreRequest>& batch) {
  throw ModelError("this model does not report its token layout (asked for " + std::to_string(batch.size()) +
                   " requests); editors that key on token positions need a model that does");
}

std::int64_t Model::count_tokens(const std::string& text) const {
  throw ModelError("this model cannot count tokens without a forward pass (asked for " +
                   std::to_string(text.size()) + " bytes of text)");
}

std::vector<EditSite> Model::edit_sites() const { return {}; }

std::vector<Generation> Model::generate_tokens(const std::vector<ModelInput>& batch, const GenerateOptions& options) {
  (void)options;
  throw ModelError("this model does not report generated token ids (asked for " + std::to_string(batch.size()) +
                   " inputs); use generate() for text");
}

torch::Device Model::device() const { return torch::kCPU; }

void Model::set_parameter(const std::string& name, const torch::Tensor& value) {
  torch::Tensor target = parameter(name);
  if (!target.sizes().equals(value.sizes()))
    throw ModelError("set_parameter('" + name + "'): shape " + shape_string(value) + " does not match the parameter's " +
                     shape_string(target));
  torch::NoGradGuard no_grad;
  target.copy_(value);
}

ParameterSnapshot Model::snapshot(const std::vector<std::string>& names) {
  torch::NoGradGuard no_grad;
  ParameterSnapshot out;
  const std::vector<std::string> all = names.empty() ? parameter_names() : names;
  for (const std::string& name : all) out.emplace(name, parameter(name).detach().clone());
  return out;
}

void Model::restore(const ParameterSnapshot& snapshot) {
  for (const auto& [name, value] : snapshot) set_parameter(name, value);
}

torch::Tensor Model::target_log_probs(const std::vector<ScoreRequest>& batch) {
  throw ModelError("this model does not expose target log-probabilities (asked for " + std::to_string(batch.size()) +
                   " requests); use an editor setting that needs only loss()");
}

void Model::save_checkpoint(const std::string& dir) {
  throw ModelError("this model cannot save checkpoints (asked to write '" + dir + "')");
}

TapHandle TapRegistry::add(const std::string& tap, TapCallback callback) {
  std::uint64_t id = state_->next_id++;
  state_->callbacks[tap].emplace_back(id, std::move(callback));
  std::weak_ptr<State> weak = state_;
  return TapHandle([weak, tap, id] {
    auto state = weak.lock();
    if (!state) return;
    auto it = state->callbacks.find(tap);
    if (it == state->callbacks.end()) return;
    auto& list = it->second;
    list.erase(std::remove_if(list.begin(), list.end(), [id](const auto& entry) { return entry.first == id; }),
               list.end());
    if (list.empty()) state->callbacks.erase(it);
  });
}

torch::Tensor TapRegistry::apply_slow(const std::string& tap, torch::Tensor activation) const {
  auto it = state_->callbacks.find(tap);
  if (it == state_->callbacks.end()) return activation;
  // Copy: a callback may remove itself (drop its handle) while we iterate.
  auto callbacks = it->second;
  for (const auto& entry : callbacks) activation = entry.second(tap, activation);
  return activation;
}

}  // namespace mike

namespace mike {
// Key functions: anchor each SDK interface's vtable and type_info here.
Model::~Model() = default;
EditedModel::~EditedModel() = default;
ForwardingModel::~ForwardingModel() = default;
InPlaceEdit::~InPlaceEdit() = default;
Editor::~Editor() = default;
FitProgress::~FitProgress() = default;
Corpus::~Corpus() = default;
CorpusSource::~CorpusSource() = default;

const CorpusSource& Editor::corpus_source() const {
  if (!corpus_source_)
    throw PluginError("this editor reads a corpus, but no corpus source was set; the host sets one when it creates "
                      "the editor (PluginRegistry::create_editor); code that constructs editors itself must call "
                      "Editor::set_corpus_source");
  return *corpus_source_;
}

Metric::~Metric() = default;
}  // namespace mike
