// ROME eq. 4's value optimisation (see value_shift.h).
#include "value_shift.h"

#include <torch/torch.h>

#include <algorithm>

#include "mike/edit_training.h"
#include "mike/error.h"

namespace mike::locate_edit {
namespace {

// One edit's part of the joint problem.
struct EditProblem {
  std::vector<ScoreRequest> requests;  // the edit prompt in each context template
  KeyPositions positions;              // per request: its key positions
  std::int64_t target_tokens = 0;      // scored tokens over all its requests
  torch::Tensor target_ids;            // those ids, flattened [target_tokens]
  double base_norm = 0.0;              // mean ‖h‖ at its keys
  std::int64_t shift_first = 0, shift_rows = 0;  // its rows of the joint shift
  // Preservation: the neutral prompt with its original greedy continuation.
  std::vector<ScoreRequest> preserve;  // empty: no preservation term
  KeyPositions preserve_positions;
  std::int64_t preserve_tokens = 0;
  torch::Tensor preserve_original;     // original log-probs [tokens, V]; undefined: NLL fallback
};

// The neutral prompt's continuation as preservation target of each edit that
// has one (options.preserve_prompt; not with answer_tokens: see below).
void add_preservation(Model& model, const std::string& tap, KeyPosition position, const ValueOptimisation& options,
                      const std::vector<EditRequest>& edits, std::vector<EditProblem>& problems) {
  // With answer_tokens the shift sits on the edit's own answer positions,
  // which a neutral prompt does not have: preservation then comes from C in
  // the closed form alone.
  if (options.preserve_prompt.empty() || position == KeyPosition::kAnswerTokens) return;
  std::vector<ModelInput> neutral;
  for (const EditRequest& e : edits) neutral.push_back({options.preserve_prompt, e.input.image});
  GenerateOptions greedy;
  greedy.max_new_tokens = options.preserve_tokens;
  const std::vector<std::string> originals = model.generate(neutral, greedy);
  std::vector<std::size_t> with;  // edits that get a preservation term
  std::vector<ScoreRequest> preserve;
  for (std::size_t k = 0; k < edits.size(); ++k) {
    const std::string& original = originals.at(k);
    if (original.find_first_not_of(" \t\n") == std::string::npos) continue;
    with.push_back(k);
    preserve.push_back({neutral[k], original, 1});
  }
  if (preserve.empty()) return;
  KeyCapture captured;
  try {
    captured = capture_keys(model, tap, preserve, position);
  } catch (const DataError&) {
    // A continuation that re-encodes to no tokens (e.g. only an unknown
    // piece) leaves nothing to preserve for its edit (ValueResult says so);
    // find which, one by one, and keep the rest.
    std::vector<std::size_t> kept_with;
    std::vector<ScoreRequest> kept;
    for (std::size_t i = 0; i < preserve.size(); ++i) {
      try {
        capture_keys(model, tap, {preserve[i]}, position);
      } catch (const DataError&) {
        continue;
      }
      kept_with.push_back(with[i]);
      kept.push_back(preserve[i]);
    }
    with = std::move(kept_with);
    preserve = std::move(kept);
    if (preserve.empty()) return;
    captured = capture_keys(model, tap, preserve, position);
  }
  torch::Tensor original_log_probs;
  try {
    torch::NoGradGuard no_grad;
    original_log_probs = model.target_log_probs(preserve).detach();
  } catch (const ModelError&) {
    // The model exposes no logits: the NLL fallback, for every edit.
  }
  std::int64_t row = 0;
  for (std::size_t i = 0; i < with.size(); ++i) {
    EditProblem& p = problems[with[i]];
    p.preserve = {preserve[i]};
    p.preserve_positions = {captured.positions[i]};
    p.preserve_tokens = static_cast<std::int64_t>(captured.target_tokens[i].size());
    if (original_log_probs.defined()) p.preserve_original = original_log_probs.slice(0, row, row + p.preserve_tokens);
    row += p.preserve_tokens;
  }
}

// Appends one edit's rows to a batch, each row placed at the edit's shift rows.
void append_rows(const std::vector<ScoreRequest>& requests, const KeyPositions& positions, std::int64_t shift_first,
                 std::vector<ScoreRequest>& batch, KeyPositions& batch_positions, std::vector<std::int64_t>& first_rows) {
  batch.insert(batch.end(), requests.begin(), requests.end());
  batch_positions.insert(batch_positions.end(), positions.begin(), positions.end());
  first_rows.insert(first_rows.end(), requests.size(), shift_first);
}

}  // namespace

std::vector<ValueResult> optimise_value_shifts(Model& model, const std::string& tap,
                                               const std::vector<EditRequest>& edits,
                                               const std::vector<std::string>& context_templates,
                                               KeyPosition position, const ValueOptimisation& options) {
  if (edits.empty()) return {};
  // Keys of every edit's templated prompts, read in one scoring pass.
  std::vector<EditProblem> problems(edits.size());
  std::vector<ScoreRequest> all_requests;
  for (std::size_t k = 0; k < edits.size(); ++k) {
    problems[k].requests = templated_requests(edits[k], context_templates);
    all_requests.insert(all_requests.end(), problems[k].requests.begin(), problems[k].requests.end());
  }
  const KeyCapture base = capture_keys(model, tap, all_requests, position);
  std::size_t request = 0;
  std::int64_t key_row = 0, shift_rows = 0;
  for (EditProblem& p : problems) {
    std::int64_t keys = 0;
    std::vector<std::int64_t> ids;
    for (std::size_t j = 0; j < p.requests.size(); ++j, ++request) {
      p.positions.push_back(base.positions[request]);
      keys += static_cast<std::int64_t>(base.positions[request].size());
      ids.insert(ids.end(), base.target_tokens[request].begin(), base.target_tokens[request].end());
    }
    p.base_norm = base.at_key.slice(0, key_row, key_row + keys).norm(2, {1}).mean().item<double>();
    key_row += keys;
    p.target_tokens = static_cast<std::int64_t>(ids.size());
    p.target_ids = torch::tensor(ids, torch::TensorOptions().dtype(torch::kInt64)).to(model.device());
    // One shift per key position of a request, shared by its context templates.
    p.shift_first = shift_rows;
    p.shift_rows = static_cast<std::int64_t>(p.positions.front().size());
    shift_rows += p.shift_rows;
  }
  add_preservation(model, tap, position, options, edits, problems);

  // Every edit's rows and every preservation prompt in one forward per step,
  // when the model gives log-probabilities (a step on a small model costs
  // per-op overhead more than arithmetic). Rows are independent and padding
  // is masked, so each edit's terms are its own up to float rounding.
  bool joint = std::all_of(problems.begin(), problems.end(),
                           [](const EditProblem& p) { return p.preserve.empty() || p.preserve_original.defined(); });
  if (joint && std::all_of(problems.begin(), problems.end(), [](const EditProblem& p) { return p.preserve.empty(); })) {
    try {  // nothing asked for log-probabilities yet: does the model give them?
      torch::NoGradGuard no_grad;
      model.target_log_probs({problems.front().requests.front()});
    } catch (const ModelError&) {
      joint = false;
    }
  }
  std::vector<ScoreRequest> joint_batch;
  KeyPositions joint_positions;
  std::vector<std::int64_t> joint_first_rows;
  if (joint) {
    for (const EditProblem& p : problems)
      append_rows(p.requests, p.positions, p.shift_first, joint_batch, joint_positions, joint_first_rows);
    for (const EditProblem& p : problems)
      append_rows(p.preserve, p.preserve_positions, p.shift_first, joint_batch, joint_positions, joint_first_rows);
  }
  const KeyPositions joint_columns = joint ? columns_in_forward(model, joint_batch, joint_positions) : KeyPositions();

  FrozenParameters frozen(model);
  torch::Tensor shift = torch::zeros({shift_rows, base.at_key.size(1)}, base.at_key.options().requires_grad(true));
  // Where the tap adds the shift in the forward that runs next.
  KeyPositions columns;
  std::vector<std::int64_t> first_rows;
  TapHandle handle = model.add_tap(tap, [&](const std::string&, const torch::Tensor& x) {
    return add_at_columns(x, shift, columns, first_rows);
  });
  // One edit's (or preservation prompt's) rows alone: the NLL fallback.
  auto loss_alone = [&](const std::vector<ScoreRequest>& rows, const KeyPositions& positions, std::int64_t first) {
    columns = columns_in_forward(model, rows, positions);
    first_rows.assign(rows.size(), first);
    return model.loss(rows);
  };

  std::vector<ValueResult> results(problems.size());
  std::vector<torch::Tensor> joint_terms(problems.size());  // preservation terms of the last joint forward
  GroupedAdamObjective objective;
  for (const EditProblem& p : problems) objective.rows.emplace_back(p.shift_first, p.shift_rows);
  objective.losses = [&] {
    std::vector<torch::Tensor> nll;
    if (!joint) {
      for (const EditProblem& p : problems) nll.push_back(loss_alone(p.requests, p.positions, p.shift_first));
      return nll;
    }
    columns = joint_columns;
    first_rows = joint_first_rows;
    const torch::Tensor log_probs = model.target_log_probs(joint_batch);
    std::int64_t row = 0;
    for (const EditProblem& p : problems) {
      // The edit rows' mean NLL, as Model::loss() gives it.
      nll.push_back(-log_probs.slice(0, row, row + p.target_tokens).gather(1, p.target_ids.unsqueeze(1)).mean());
      row += p.target_tokens;
    }
    for (std::size_t k = 0; k < problems.size(); ++k) {
      const EditProblem& p = problems[k];
      if (p.preserve.empty()) continue;
      // ROME eq. 4's KL(P_original ‖ P_edited), averaged over positions.
      const torch::Tensor edited = log_probs.slice(0, row, row + p.preserve_tokens);
      joint_terms[k] = (p.preserve_original.exp() * (p.preserve_original - edited)).sum(-1).mean();
      row += p.preserve_tokens;
    }
    return nll;
  };
  auto preservation = [&](std::size_t k) {
    const EditProblem& p = problems[k];
    return joint ? joint_terms[k] : loss_alone(p.preserve, p.preserve_positions, p.shift_first);
  };
  // ROME eq. 4: target NLL + preservation + weight decay on the shift.
  objective.total = [&](std::size_t k, const torch::Tensor& nll) {
    const EditProblem& p = problems[k];
    const torch::Tensor own = shift.slice(0, p.shift_first, p.shift_first + p.shift_rows);
    torch::Tensor loss = nll + options.weight_decay * own.pow(2).sum(1).mean() / (p.base_norm * p.base_norm);
    if (!p.preserve.empty()) {
      const torch::Tensor term = preservation(k);
      results[k].preserve_last = term.item<double>();
      loss = loss + options.preserve_factor * term;
    }
    return loss;
  };
  // ROME's clamp on ‖δ‖ ≤ clamp_norm_factor ‖h‖, per key position, ‖h‖ of its edit.
  std::vector<float> max_norms;
  for (const EditProblem& p : problems) max_norms.insert(max_norms.end(), p.shift_rows, options.clamp_norm_factor * p.base_norm);
  const torch::Tensor max_norm =
      torch::tensor(max_norms, torch::TensorOptions().dtype(torch::kFloat32)).to(shift.device(), shift.scalar_type()).unsqueeze(1);
  auto clamp = [&] {
    const torch::Tensor norms = shift.norm(2, {1}, /*keepdim=*/true);
    shift.mul_(torch::clamp(max_norm / norms.clamp_min(1e-12), c10::nullopt, 1.0));
  };
  EditTrainingOptions adam;
  adam.steps = options.steps;
  adam.lr = options.lr;
  adam.weight_decay = 0.0;  // the decay is ROME's term in the loss, relative to ‖h‖
  adam.early_stop_loss = options.stop_loss;
  const std::vector<EditTrainingResult> trained = minimise_groups_with_adam({shift}, objective, adam, clamp);

  for (std::size_t k = 0; k < problems.size(); ++k) {
    const EditProblem& p = problems[k];
    ValueResult& r = results[k];
    r.loss_first = trained[k].loss_first;
    r.loss_last = trained[k].loss_last;
    r.steps = trained[k].steps;
    r.preserved = !p.preserve.empty();
    r.preserved_by_kl = r.preserved && joint;
    if (r.preserved && joint) {
      // The last joint forward ran on the returned shift (after the last
      // step, or with the rows frozen where early stopping stopped them).
      r.preserve_last = joint_terms[k].item<double>();
    } else if (r.preserved && r.steps == options.steps) {  // the last step's effect on it is not measured yet
      torch::NoGradGuard no_grad;
      r.preserve_last = preservation(k).item<double>();
    }
    r.shift = shift.slice(0, p.shift_first, p.shift_first + p.shift_rows).detach().clone();
  }
  return results;
}

ValueResult optimise_value_shift(Model& model, const std::string& tap, const EditRequest& edit,
                                 const std::vector<std::string>& context_templates, KeyPosition position,
                                 const ValueOptimisation& options) {
  return optimise_value_shifts(model, tap, {edit}, context_templates, position, options).front();
}

namespace {
const void* image_identity(const EditRequest& edit) {
  return edit.input.image.defined() ? edit.input.image.unsafeGetTensorImpl() : nullptr;
}
}  // namespace

void PreparedValues::prepare(Model& model, const std::string& tap, const std::vector<EditRequest>& edits,
                             const std::vector<std::string>& context_templates, KeyPosition position,
                             const ValueOptimisation& options) {
  entries_.clear();
  const std::vector<ValueResult> values = value_shifts(model, tap, edits, context_templates, position, options, nullptr);
  for (std::size_t k = 0; k < edits.size(); ++k)
    entries_.push_back({tap, edits[k].id, edits[k].input.prompt, edits[k].target, image_identity(edits[k]), values[k]});
}

std::optional<ValueResult> PreparedValues::take(const std::string& tap, const EditRequest& edit) {
  auto hit = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) {
    return e.tap == tap && e.id == edit.id && e.prompt == edit.input.prompt && e.target == edit.target &&
           e.image == image_identity(edit);
  });
  if (hit == entries_.end()) return std::nullopt;
  ValueResult value = std::move(hit->value);
  entries_.erase(hit);
  return value;
}

std::vector<ValueResult> value_shifts(Model& model, const std::string& tap, const std::vector<EditRequest>& edits,
                                      const std::vector<std::string>& context_templates, KeyPosition position,
                                      const ValueOptimisation& options, PreparedValues* prepared) {
  std::vector<std::optional<ValueResult>> found(edits.size());
  std::vector<std::size_t> missing;
  for (std::size_t k = 0; k < edits.size(); ++k) {
    if (prepared) found[k] = prepared->take(tap, edits[k]);
    if (!found[k]) missing.push_back(k);
  }
  const auto chunk = static_cast<std::size_t>(std::max(1, options.batch_edits));
  for (std::size_t first = 0; first < missing.size(); first += chunk) {
    std::vector<EditRequest> batch;
    for (std::size_t j = first; j < std::min(missing.size(), first + chunk); ++j) batch.push_back(edits[missing[j]]);
    std::vector<ValueResult> values = optimise_value_shifts(model, tap, batch, context_templates, position, options);
    for (std::size_t j = 0; j < values.size(); ++j) found[missing[first + j]] = std::move(values[j]);
  }
  std::vector<ValueResult> out;
  for (auto& value : found) out.push_back(std::move(*value));
  return out;
}

}  // namespace mike::locate_edit
