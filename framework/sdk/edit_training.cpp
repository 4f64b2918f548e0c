// Shared gradient-based editing (see mike/edit_training.h).
#include "mike/edit_training.h"

#include <torch/torch.h>

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
