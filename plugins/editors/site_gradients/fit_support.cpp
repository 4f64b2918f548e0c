#include "fit_support.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "mike/edit_training.h"

namespace mike::site_gradients {

std::vector<PreparedEdit> prepare_training_edits(Model& model, const std::vector<EditSite>& sites,
                                                 const std::vector<TrainingEdit>& train, FitProgress& progress,
                                                 std::int64_t total) {
  std::vector<PreparedEdit> out;
  for (std::size_t i = 0; i < train.size(); ++i) {
    PreparedEdit prepared;
    double loss = 0;
    prepared.factors = capture_site_gradients(model, sites, edit_training_batch({train[i].edit}), loss);
    if (!train[i].out_of_scope.empty()) {
      torch::NoGradGuard no_grad;
      prepared.base_log_probs = model.target_log_probs(train[i].out_of_scope);
    }
    out.push_back(std::move(prepared));
    progress.update(static_cast<std::int64_t>(i + 1), total, "gradients of the training edits");
  }
  return out;
}

PostEditLosses post_edit_losses(Model& model, const std::vector<EditSite>& sites, const TrainingEdit& example,
                                const PreparedEdit& prepared, const OutputShift::Shift& shift) {
  FrozenParameters frozen(model);
  const OutputShift edited(model, sites, shift);
  std::vector<ScoreRequest> scope = edit_training_batch({example.edit});
  for (ScoreRequest request : example.in_scope) {
    request.end_with_eos = true;
    scope.push_back(std::move(request));
  }
  PostEditLosses losses;
  losses.edit = model.loss(scope);
  if (prepared.base_log_probs.defined()) {
    const torch::Tensor post = model.target_log_probs(example.out_of_scope);
    const torch::Tensor& pre = prepared.base_log_probs;
    losses.locality = (pre.exp() * (pre - post)).sum(-1).mean();
  }
  return losses;
}

void TrainingStatus::step(std::int64_t step, double edit_nll, double locality_kl, const std::string& extra) {
  edit_ = step == 0 ? edit_nll : 0.95 * edit_ + 0.05 * edit_nll;
  locality_ = step == 0 ? locality_kl : 0.95 * locality_ + 0.05 * locality_kl;
  char status[64];
  std::snprintf(status, sizeof status, "edit nll %.3f  locality kl %.4f", edit_, locality_);
  progress_.update(first_ + step + 1, total_, status + extra);
}

EditOrder::EditOrder(std::size_t n, std::uint64_t seed) : order_(n), at_(n), shuffle_(seed) {
  std::iota(order_.begin(), order_.end(), 0);
}

std::size_t EditOrder::next() {
  if (at_ == order_.size()) {
    std::shuffle(order_.begin(), order_.end(), shuffle_);
    at_ = 0;
  }
  return order_[at_++];
}

}  // namespace mike::site_gradients
