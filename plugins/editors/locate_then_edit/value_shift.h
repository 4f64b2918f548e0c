#pragma once
// The target value of locate-then-edit (ROME eq. 4, MEMIT eq. 16): a shift δ
// of the activation at a tap, at the edit's key position(s), that makes the
// model produce the edit's target.
#include <torch/types.h>

#include <string>
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
};

struct ValueResult {
  torch::Tensor shift;   // δ [key positions, d] (float32): one row per key position
  double loss_first = 0.0, loss_last = 0.0;
  int steps = 0;
  bool preserved = false;  // whether the preservation term was used
  bool preserved_by_kl = false;  // KL (true) or the NLL fallback (false)
  double preserve_last = 0.0;    // the preservation term at the returned shift
};

// ROME eq. 4: the shift δ of the activation at `tap` (at the key position of
// every templated input) that makes the model produce the edit's target,
// optimised by the SDK's one Adam loop (mike::minimise_with_adam).
ValueResult optimise_value_shift(Model& model, const std::string& tap, const EditRequest& edit,
                                 const std::vector<std::string>& context_templates, KeyPosition position,
                                 const ValueOptimisation& options);

}  // namespace mike::locate_edit
