// ROME eq. 4's value optimisation (see value_shift.h).
#include "value_shift.h"

#include <torch/torch.h>

#include "mike/edit_training.h"
#include "mike/error.h"

namespace mike::locate_edit {

ValueResult optimise_value_shift(Model& model, const std::string& tap, const EditRequest& edit,
                                 const std::vector<std::string>& context_templates, KeyPosition position,
                                 const ValueOptimisation& options) {
  const std::vector<ScoreRequest> requests = templated_requests(edit, context_templates);
  const KeyCapture base = capture_keys(model, tap, requests, position);
  const double base_norm = base.at_key.norm(2, {1}).mean().item<double>();

  // Preservation term: the original distribution along the greedy
  // continuation of a neutral prompt on the same image. With answer_tokens
  // the shift sits on the edit's own answer positions, which a neutral prompt
  // does not have: preservation then comes from C in the closed form alone.
  std::vector<ScoreRequest> preserve;
  KeyCapture preserve_base;
  torch::Tensor preserve_original;  // original log-probs [tokens, V] (KL) or undefined (NLL fallback)
  if (!options.preserve_prompt.empty() && position != KeyPosition::kAnswerTokens) {
    ModelInput neutral{options.preserve_prompt, edit.input.image};
    GenerateOptions greedy;
    greedy.max_new_tokens = options.preserve_tokens;
    const std::string original = model.generate({neutral}, greedy).at(0);
    if (original.find_first_not_of(" \t\n") != std::string::npos) {
      preserve.push_back({neutral, original, 1});
      try {
        preserve_base = capture_keys(model, tap, preserve, position);
      } catch (const DataError&) {
        // The continuation re-encodes to no tokens (e.g. only an unknown
        // piece): there is nothing to preserve; ValueResult says so.
        preserve.clear();
      }
    }
    if (!preserve.empty()) {
      try {
        torch::NoGradGuard no_grad;
        preserve_original = model.target_log_probs(preserve).detach();
      } catch (const ModelError&) {
        preserve_original = torch::Tensor();  // the model exposes no logits: NLL fallback
      }
    }
  }
  // Where the shift goes in the forwards loss()/target_log_probs() run.
  const KeyPositions edit_columns = columns_in_forward(model, requests, base.positions);
  const KeyPositions preserve_columns =
      preserve.empty() ? KeyPositions() : columns_in_forward(model, preserve, preserve_base.positions);

  FrozenParameters frozen(model);
  // One shift per key position of a request, shared by its context templates.
  torch::Tensor shift = torch::zeros({static_cast<std::int64_t>(base.positions.front().size()), base.at_key.size(1)},
                                     base.at_key.options().requires_grad(true));
  const KeyPositions* columns = &edit_columns;
  TapHandle handle = model.add_tap(tap, [&](const std::string&, const torch::Tensor& x) {
    return add_at_columns(x, shift, *columns);
  });
  ValueResult result;
  auto preservation = [&]() -> torch::Tensor {
    columns = &preserve_columns;
    torch::Tensor term;
    if (preserve_original.defined()) {
      // ROME eq. 4's KL(P_original ‖ P_edited), averaged over positions.
      const torch::Tensor edited = model.target_log_probs(preserve);
      term = (preserve_original.exp() * (preserve_original - edited)).sum(-1).mean();
    } else {
      term = model.loss(preserve);
    }
    columns = &edit_columns;
    return term;
  };
  AdamObjective objective;
  objective.loss = [&] {
    columns = &edit_columns;
    return model.loss(requests);
  };
  // ROME eq. 4: target NLL + preservation + weight decay on the shift.
  objective.total = [&](const torch::Tensor& nll) {
    torch::Tensor loss = nll + options.weight_decay * shift.pow(2).sum(1).mean() / (base_norm * base_norm);
    if (!preserve.empty()) {
      torch::Tensor term = preservation();
      result.preserve_last = term.item<double>();
      loss = loss + options.preserve_factor * term;
    }
    return loss;
  };
  const double max_norm = options.clamp_norm_factor * base_norm;
  // ROME's clamp on ‖δ‖, per key position.
  auto clamp = [&] {
    const torch::Tensor norms = shift.norm(2, {1}, /*keepdim=*/true);
    shift.mul_(torch::clamp(max_norm / norms.clamp_min(1e-12), c10::nullopt, 1.0));
  };
  EditTrainingOptions adam;
  adam.steps = options.steps;
  adam.lr = options.lr;
  adam.weight_decay = 0.0;  // the decay is ROME's term in the loss, relative to ‖h‖
  adam.early_stop_loss = options.stop_loss;
  const EditTrainingResult trained = minimise_with_adam({shift}, objective, adam, clamp);
  result.loss_first = trained.loss_first;
  result.loss_last = trained.loss_last;
  result.steps = trained.steps;
  if (result.steps == options.steps && !preserve.empty()) {  // the last step's effect on it is not measured yet
    torch::NoGradGuard no_grad;
    result.preserve_last = preservation().item<double>();
  }
  result.shift = shift.detach().clone();
  result.preserved = !preserve.empty();
  result.preserved_by_kl = result.preserved && preserve_original.defined();
  return result;
}

}  // namespace mike::locate_edit
