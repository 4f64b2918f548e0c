#pragma once
// Gradient-based editing shared by editor plugins that tune tensors on the
// edit's NLL (ft, lora, and the value shift of locate-then-edit): the frozen
// model, the training batch, and one Adam loop with early stopping
// (minimise_with_adam, driven by a loss callback). Written once here so every
// editor trains the same way (EOS included, flags and gradients cleaned up).
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "mike/editor.h"
#include "mike/export.h"
#include "mike/model.h"

namespace mike {

// Turns off requires_grad on every parameter of `model` for its lifetime and
// then restores each flag, so that only the tensors an editor trains get
// gradients (and the model's own stay untouched by autograd).
class MIKE_API FrozenParameters {
 public:
  explicit FrozenParameters(Model& model);
  ~FrozenParameters();
  FrozenParameters(const FrozenParameters&) = delete;
  FrozenParameters& operator=(const FrozenParameters&) = delete;

 private:
  std::vector<std::pair<torch::Tensor, bool>> flags_;
};

// The edits as training targets: image + prompt -> target followed by EOS.
// Training on EOS teaches greedy decoding to stop after the new answer:
// without it a perfectly teacher-forced edit can run on past the name, and
// exact match fails although token accuracy is 1.
MIKE_API std::vector<ScoreRequest> edit_training_batch(const std::vector<EditRequest>& requests);

struct EditTrainingOptions {
  int steps = 40;                // Adam steps at most
  double lr = 1.0e-2;            // Adam learning rate
  double weight_decay = 0.0;     // Adam's L2 weight decay
  double early_stop_loss = 1.0e-2;  // stop once the batch NLL is below this
};

struct EditTrainingResult {
  double loss_first = 0.0;  // NLL before the first step
  double loss_last = 0.0;   // NLL after the last step taken
  int steps = 0;            // optimiser steps taken
};

// What minimise_with_adam optimises. `loss` is the quantity early stopping
// watches and EditTrainingResult reports (the edit's NLL); `total`, when set,
// turns it into what is minimised (loss + regularisers) and runs only on
// steps that are taken, so a costly regulariser is not computed for a step
// early stopping skips.
struct AdamObjective {
  std::function<torch::Tensor()> loss;
  std::function<torch::Tensor(const torch::Tensor& loss)> total;
};

// The one optimisation loop: per step, evaluate `loss`; stop once it is below
// options.early_stop_loss; else backpropagate `total` (or `loss`), take an
// Adam step (options.lr, options.weight_decay) on `tuned` (which must require
// gradients) and run `after_step` under NoGradGuard (projection, clamp). When
// every step was taken the loss is measured once more (no gradient), so
// loss_last is always the loss of the tensors returned.
MIKE_API EditTrainingResult minimise_with_adam(const std::vector<torch::Tensor>& tuned, const AdamObjective& objective,
                                               const EditTrainingOptions& options,
                                               const std::function<void()>& after_step = {});

// Several independent problems of the same shape minimised together, one
// batched evaluation per step (e.g. the value shifts of several edits that
// each run alone on the same model). Group g owns rows [first, first + count)
// of dim 0 of every tuned tensor, and only its own loss depends on them.
// Each group follows minimise_with_adam's rules on its own: it stops once its
// loss is below options.early_stop_loss, its rows frozen from then on (after
// `after_step` too), and when it took every step its loss is measured once
// more. Adam is elementwise and the groups start together, so each group's
// result is what minimise_with_adam gives it alone, up to the float rounding
// of the batched evaluation.
struct GroupedAdamObjective {
  std::vector<std::pair<std::int64_t, std::int64_t>> rows;  // per group: first row, row count
  // Every group's loss, from one evaluation (inactive groups' are ignored).
  std::function<std::vector<torch::Tensor>()> losses;
  // What group g minimises given its loss (loss + regularisers); asked only
  // for groups still active on a step that is taken. Unset: the loss itself.
  std::function<torch::Tensor(std::size_t group, const torch::Tensor& loss)> total;
};

// One EditTrainingResult per group (see GroupedAdamObjective).
MIKE_API std::vector<EditTrainingResult> minimise_groups_with_adam(const std::vector<torch::Tensor>& tuned,
                                                                   const GroupedAdamObjective& objective,
                                                                   const EditTrainingOptions& options,
                                                                   const std::function<void()>& after_step = {});

// Minimises model.loss(batch) over `tuned` with Adam. Every model parameter
// is frozen for the duration (tuned ones that are model parameters train);
// `after_step` runs after each optimiser step under NoGradGuard, e.g. to
// project or clamp the tuned tensors. Gradients of `tuned` are cleared after.
MIKE_API EditTrainingResult train_on_edit(Model& model, const std::vector<ScoreRequest>& batch,
                                          const std::vector<torch::Tensor>& tuned, const EditTrainingOptions& options,
                                          const std::function<void()>& after_step = {});

}  // namespace mike
