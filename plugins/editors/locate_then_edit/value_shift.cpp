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
  // With the KL term, the edit's rows and the neutral prompt's go through one
  // forward per step instead of two: on small models a step costs per-op
  // overhead more than arithmetic, so this nearly halves the edit. The
  // numbers are the two forwards' up to float rounding (rows are independent;
  // padding is masked).
  const bool joint = preserve_original.defined();
  std::vector<ScoreRequest> joint_batch;
  KeyPositions joint_columns;
  torch::Tensor edit_target_ids;  // the edit rows' scored ids, flattened [edit tokens]
  if (joint) {
    joint_batch = requests;
    joint_batch.insert(joint_batch.end(), preserve.begin(), preserve.end());
    KeyPositions joint_positions = base.positions;
    joint_positions.insert(joint_positions.end(), preserve_base.positions.begin(), preserve_base.positions.end());
    joint_columns = columns_in_forward(model, joint_batch, joint_positions);
    std::vector<std::int64_t> flat;
    for (const auto& ids : base.target_tokens) flat.insert(flat.end(), ids.begin(), ids.end());
    edit_target_ids = torch::tensor(flat, torch::TensorOptions().dtype(torch::kInt64)).to(model.device());
  }

  FrozenParameters frozen(model);
  // One shift per key position of a request, shared by its context templates.
  torch::Tensor shift = torch::zeros({static_cast<std::int64_t>(base.positions.front().size()), base.at_key.size(1)},
                                     base.at_key.options().requires_grad(true));
  const KeyPositions* columns = &edit_columns;
  TapHandle handle = model.add_tap(tap, [&](const std::string&, const torch::Tensor& x) {
    return add_at_columns(x, shift, *columns);
  });
  ValueResult result;
  // ROME eq. 4's KL(P_original ‖ P_edited), averaged over positions.
  auto kl_to_original = [&](const torch::Tensor& edited) {
    return (preserve_original.exp() * (preserve_original - edited)).sum(-1).mean();
  };
  // The joint forward's preservation term, from the last objective.loss().
  torch::Tensor joint_term;
  auto preservation = [&]() -> torch::Tensor {
    if (joint) return joint_term;
    columns = &preserve_columns;
    const torch::Tensor term = model.loss(preserve);  // the NLL fallback: no logits
    columns = &edit_columns;
    return term;
  };
  AdamObjective objective;
  objective.loss = [&] {
    if (!joint) {
      columns = &edit_columns;
      return model.loss(requests);
    }
    columns = &joint_columns;
    const torch::Tensor log_probs = model.target_log_probs(joint_batch);
    const int64_t edit_tokens = edit_target_ids.size(0);
    joint_term = kl_to_original(log_probs.slice(0, edit_tokens));
    // The edit rows' mean NLL, as Model::loss() gives it.
    return -log_probs.slice(0, 0, edit_tokens).gather(1, edit_target_ids.unsqueeze(1)).mean();
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
  if (joint) {
    // The last objective.loss() ran on the returned shift (after the last
    // step, or where early stopping stopped), and measured the term with it.
    result.preserve_last = joint_term.item<double>();
  } else if (result.steps == options.steps && !preserve.empty()) {  // the last step's effect on it is not measured yet
    torch::NoGradGuard no_grad;
    result.preserve_last = preservation().item<double>();
  }
  result.shift = shift.detach().clone();
  result.preserved = !preserve.empty();
  result.preserved_by_kl = result.preserved && preserve_original.defined();
  return result;
}

}  // namespace mike::locate_edit
