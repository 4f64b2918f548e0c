// Shared gradient-based editing (see mike/edit_training.h).
#include "mike/edit_training.h"

#include <torch/torch.h>

#include <algorithm>

#include "mike/error.h"

namespace mike {

FrozenParameters::FrozenParameters(Model& model) {
  for (const std::string& name : model.parameter_names()) {
    torch::Tensor p = model.parameter(name);
    flags_.emplace_back(p, p.requires_grad());
    p.set_requires_grad(false);
  }
}

FrozenParameters::~FrozenParameters() {
  for (auto& [p, flag] : flags_) p.set_requires_grad(flag);
}

std::vector<ScoreRequest> edit_training_batch(const std::vector<EditRequest>& requests) {
  std::vector<ScoreRequest> batch;
  for (const EditRequest& r : requests) {
    ScoreRequest request{r.input, r.target, 1};
    request.end_with_eos = true;
    batch.push_back(std::move(request));
  }
  return batch;
}

EditTrainingResult minimise_with_adam(const std::vector<torch::Tensor>& tuned, const AdamObjective& objective,
                                      const EditTrainingOptions& options, const std::function<void()>& after_step) {
  if (tuned.empty()) throw Error("minimise_with_adam: no tensors to tune");
  if (!objective.loss) throw Error("minimise_with_adam: the objective has no loss");
  if (options.steps < 1)
    throw ConfigError("minimise_with_adam: steps must be >= 1, got " + std::to_string(options.steps));
  EditTrainingResult result;
  torch::optim::Adam optimizer(tuned, torch::optim::AdamOptions(options.lr).weight_decay(options.weight_decay));
  for (int step = 0; step < options.steps; ++step) {
    optimizer.zero_grad();
    torch::Tensor loss = objective.loss();
    result.loss_last = loss.item<double>();
    if (step == 0) result.loss_first = result.loss_last;
    if (result.loss_last < options.early_stop_loss) break;
    (objective.total ? objective.total(loss) : loss).backward();
    optimizer.step();
    ++result.steps;
    if (after_step) {
      torch::NoGradGuard no_grad;
      after_step();
    }
  }
  if (result.steps == options.steps) {  // the last step's effect is not measured yet
    torch::NoGradGuard no_grad;
    result.loss_last = objective.loss().item<double>();
  }
  return result;
}

std::vector<EditTrainingResult> minimise_groups_with_adam(const std::vector<torch::Tensor>& tuned,
                                                          const GroupedAdamObjective& objective,
                                                          const EditTrainingOptions& options,
                                                          const std::function<void()>& after_step) {
  if (tuned.empty()) throw Error("minimise_groups_with_adam: no tensors to tune");
  if (!objective.losses) throw Error("minimise_groups_with_adam: the objective has no losses");
  if (options.steps < 1)
    throw ConfigError("minimise_groups_with_adam: steps must be >= 1, got " + std::to_string(options.steps));
  const std::size_t groups = objective.rows.size();
  for (const torch::Tensor& t : tuned)
    for (const auto& [first, count] : objective.rows)
      if (first < 0 || count < 1 || first + count > t.size(0))
        throw Error("minimise_groups_with_adam: group rows [" + std::to_string(first) + ", " +
                    std::to_string(first + count) + ") do not fit a tuned tensor of " + std::to_string(t.size(0)) +
                    " rows");
  auto evaluate = [&] {
    std::vector<torch::Tensor> losses = objective.losses();
    if (losses.size() != groups)
      throw Error("minimise_groups_with_adam: the objective gave " + std::to_string(losses.size()) + " losses for " +
                  std::to_string(groups) + " groups");
    return losses;
  };
  std::vector<EditTrainingResult> results(groups);
  std::vector<bool> active(groups, true);
  // A stopped group's rows as they were when it stopped, per tuned tensor:
  // Adam's moments would move them on with a zero gradient.
  std::vector<std::vector<torch::Tensor>> frozen(groups);
  auto row_slice = [&](const torch::Tensor& t, std::size_t g) {
    return t.slice(0, objective.rows[g].first, objective.rows[g].first + objective.rows[g].second);
  };
  torch::optim::Adam optimizer(tuned, torch::optim::AdamOptions(options.lr).weight_decay(options.weight_decay));
  for (int step = 0; step < options.steps; ++step) {
    optimizer.zero_grad();
    const std::vector<torch::Tensor> losses = evaluate();
    torch::Tensor total;
    for (std::size_t g = 0; g < groups; ++g) {
      if (!active[g]) continue;
      results[g].loss_last = losses[g].item<double>();
      if (step == 0) results[g].loss_first = results[g].loss_last;
      if (results[g].loss_last < options.early_stop_loss) {
        active[g] = false;
        torch::NoGradGuard no_grad;
        for (const torch::Tensor& t : tuned) frozen[g].push_back(row_slice(t, g).detach().clone());
        continue;
      }
      torch::Tensor term = objective.total ? objective.total(g, losses[g]) : losses[g];
      total = total.defined() ? total + term : term;
    }
    if (!total.defined()) break;  // every group has stopped
    total.backward();
    optimizer.step();
    for (std::size_t g = 0; g < groups; ++g)
      if (active[g]) ++results[g].steps;
    torch::NoGradGuard no_grad;
    if (after_step) after_step();
    for (std::size_t g = 0; g < groups; ++g)
      for (std::size_t t = 0; t < frozen[g].size(); ++t) row_slice(tuned[t], g).copy_(frozen[g][t]);
  }
  if (std::find(active.begin(), active.end(), true) != active.end()) {  // some took every step
    torch::NoGradGuard no_grad;
    const std::vector<torch::Tensor> losses = evaluate();
    for (std::size_t g = 0; g < groups; ++g)
      if (active[g]) results[g].loss_last = losses[g].item<double>();
  }
  return results;
}

EditTrainingResult train_on_edit(Model& model, const std::vector<ScoreRequest>& batch,
                                 const std::vector<torch::Tensor>& tuned, const EditTrainingOptions& options,
                                 const std::function<void()>& after_step) {
  if (tuned.empty()) throw Error("train_on_edit: no tensors to tune");
  if (options.steps < 1) throw ConfigError("train_on_edit: steps must be >= 1, got " + std::to_string(options.steps));
  EditTrainingResult result;
  {
    FrozenParameters frozen(model);
    std::vector<torch::Tensor> params = tuned;
    for (torch::Tensor& t : params) t.set_requires_grad(true);
    result = minimise_with_adam(params, {[&] { return model.loss(batch); }, {}}, options, after_step);
  }
  for (const torch::Tensor& t : tuned) {
    torch::Tensor cleared = t;
    cleared.mutable_grad() = torch::Tensor();
  }
  return result;
}

}  // namespace mike
