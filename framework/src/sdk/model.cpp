// Shared implementations behind the SDK's Model, TapRegistry and Editor types
// (defaults every model/editor plugin inherits, written once here).
#include "mike/editor.h"
#include "mike/error.h"
#include "mike/metric.h"
#include "mike/model.h"
#include "mike/taps.h"

#include <torch/torch.h>

namespace mike {

namespace {
std::string shape_string(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}
}  // namespace

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
Metric::~Metric() = default;
}  // namespace mike
