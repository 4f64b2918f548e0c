#pragma once
// The target value of locate-then-edit (ROME eq. 4, MEMIT eq. 16): a shift δ
// of the activation at a tap, at the edit's key position(s), that makes the
// model produce the edit's target.
#include <torch/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "key_capture.h"
#include "mike/editor.h"

namespace mike::locate_edit {

struct ValueOptimisation {
  int steps = 25;                 // Adam steps on δ
  double lr = 0.5;                // Adam learning rate
  double preserve_factor = 0.0625;  // weight of the preservation term
  double weight_decay = 1.0e-3;   // weight of ‖δ‖² / ‖h‖²
  double clamp_norm_factor = 4.0; // ‖δ‖ ≤ this x ‖h‖ (h = activation being shifted)
  double stop_loss = 5.0e-2;      // stop once the target NLL is below this
  // Neutral prompt (same image) whose output distribution must not move: the
  // preservation term, ROME's KL(original ‖ edited) at every position of the
  // original greedy continuation of this prompt (the shift applies at its key
  // position too). Models without Model::target_log_probs fall back to the
  // NLL of that continuation (the KL to its one-hot mode). "" = off.
  std::string preserve_prompt = "Describe the image.";
  int preserve_tokens = 4;  // length of the continuation the KL covers
  // How many edits' shifts are optimised together, one batched forward per
  // step, when edits are independent (a multi-request edit, or the runner's
  // Editor::prepare_independent_edits); 1 = one edit at a time.
  int batch_edits = 8;
};

struct ValueResult {
  torch::Tensor shift;   // δ [key positions, d] (float32): one row per key position
  double loss_first = 0.0, loss_last = 0.0;
  int steps = 0;
  bool preserved = false;  // whether the preservation term was used
  bool preserved_by_kl = false;  // KL (true) or the NLL fallback (false)
  // The preservation term at the returned shift (with the NLL fallback and
  // early stopping: at the last step taken).
  double preserve_last = 0.0;
};

// ROME eq. 4 for each edit on its own: the shift δ of the activation at `tap`
// (at the key position of every templated input) that makes the model
// produce the edit's target, optimised by the SDK's Adam loop. The edits are
// independent problems on the same model; they are optimised together
// (mike::minimise_groups_with_adam: one forward per step for all of them,
// each stopping on its own), so each result is the one-edit result up to
// float rounding. Pass options.batch_edits edits or fewer at a time to bound
// the batch; value_shifts() does the chunking.
std::vector<ValueResult> optimise_value_shifts(Model& model, const std::string& tap,
                                               const std::vector<EditRequest>& edits,
                                               const std::vector<std::string>& context_templates,
                                               KeyPosition position, const ValueOptimisation& options);

// optimise_value_shifts() for one edit.
ValueResult optimise_value_shift(Model& model, const std::string& tap, const EditRequest& edit,
                                 const std::vector<std::string>& context_templates, KeyPosition position,
                                 const ValueOptimisation& options);

// Value shifts computed ahead, batch_edits at a time, for edits the runner
// will make one by one on the model as it is now
// (Editor::prepare_independent_edits): a shift depends only on the model and
// the edit, so the edit finds its own here instead of optimising alone.
class PreparedValues {
 public:
  // Replaces what was prepared with the shifts of `edits` at `tap`.
  void prepare(Model& model, const std::string& tap, const std::vector<EditRequest>& edits,
               const std::vector<std::string>& context_templates, KeyPosition position,
               const ValueOptimisation& options);
  // The prepared shift of `edit` at `tap` (handed out once), or nullopt.
  std::optional<ValueResult> take(const std::string& tap, const EditRequest& edit);

 private:
  struct Entry {
    std::string tap, id, prompt, target;
    const void* image = nullptr;  // the edit image's tensor storage
    ValueResult value;
  };
  std::vector<Entry> entries_;
};

// The shifts of `edits` at `tap`: those `prepared` holds (when given), the
// rest optimised batch_edits at a time.
std::vector<ValueResult> value_shifts(Model& model, const std::string& tap, const std::vector<EditRequest>& edits,
                                      const std::vector<std::string>& context_templates, KeyPosition position,
                                      const ValueOptimisation& options, PreparedValues* prepared);

}  // namespace mike::locate_edit
