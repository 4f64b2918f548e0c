#pragma once
// Locate-then-edit: the machinery shared by the rome, memit and alphaedit
// editor plugins. Each edits the MLP down-projections of chosen language-model
// layers, W (d_out x d_in), whose input at the edit's key position is the key
// k and whose output is the value v:
//   1. keys k*: the down-projection input at the key position, averaged over
//      several context templates (ROME §3.1, eq. 3);
//   2. target z: the layer output that makes the model produce the new answer,
//      found by optimising a shift δ added at the key position (ROME eq. 4:
//      NLL of the target + a preservation term + weight decay, ‖δ‖ clamped);
//   3. a closed-form weight update using C = E[k kᵀ] (mike/layer_stats.h):
//      ROME's rank-one update, MEMIT's batched least squares spread over the
//      layers, or AlphaEdit's null-space-projected MEMIT update.
// The key position is the last prompt token (the token that predicts the
// answer's first token). Closed forms run in float64.
#include <torch/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mike/config.h"
#include "mike/editor.h"
#include "mike/layer_stats.h"

namespace mike {

// ---- closed forms -----------------------------------------------------------
// Shapes: weight W [d_out, d_in], second moment C [d_in, d_in], keys K
// [d_in, n], residuals R [d_out, n]. Results are ΔW [d_out, d_in], float64.

// ROME eq. 2: ΔW = (v* − W k*) (C⁻¹k*)ᵀ / ((C⁻¹k*)ᵀ k*). Afterwards
// (W+ΔW) k* = v*, and any key x with (C⁻¹k*)ᵀ x = 0 maps as before.
MIKE_API torch::Tensor rome_update(const torch::Tensor& weight, const torch::Tensor& second_moment,
                                   const torch::Tensor& key, const torch::Tensor& value);

// MEMIT eq. 14: ΔW = R Kᵀ (λ C + K Kᵀ)⁻¹, the minimiser of
// λ‖ΔW‖²_C + ‖(W+ΔW)K − (WK + R)‖²; the residual left is R (I + Kᵀ(λC)⁻¹K)⁻¹.
MIKE_API torch::Tensor memit_update(const torch::Tensor& keys, const torch::Tensor& residuals,
                                    const torch::Tensor& second_moment, double lambda);

// AlphaEdit eq. 6: P = Û Ûᵀ, Û = eigenvectors of C whose eigenvalues are below
// `relative_threshold` x the largest one (the null space of the preserved keys).
MIKE_API torch::Tensor nullspace_projector(const torch::Tensor& second_moment, double relative_threshold);

// AlphaEdit eq. 11: ΔW = R Kᵀ P (K Kᵀ P + l2 I)⁻¹, equivalently the transpose
// of (P K Kᵀ + l2 I)⁻¹ P K Rᵀ. Its rows lie in range(P), so ΔW K₀ ≈ 0 for
// every preserved key K₀ (whose directions P removes).
MIKE_API torch::Tensor alphaedit_update(const torch::Tensor& keys, const torch::Tensor& residuals,
                                        const torch::Tensor& projector, double l2);

// ---- keys and values on a model ---------------------------------------------

// The activation at `tap` at the last prompt token of each request's input
// (the position that predicts the target's first token): [requests, d].
MIKE_API torch::Tensor activations_at_last_prompt_token(Model& model, const std::string& tap,
                                                         const std::vector<ScoreRequest>& requests);

// The edit's input with its prompt put into each context template ("{}" marks
// the prompt), one ScoreRequest per template, target = the edit's target.
MIKE_API std::vector<ScoreRequest> templated_requests(const EditRequest& edit,
                                                      const std::vector<std::string>& context_templates);

// Names of the pieces of LM layer `layer` the editors use.
MIKE_API std::string down_proj_weight_name(int layer);
MIKE_API std::string down_proj_input_tap(int layer);
MIKE_API std::string down_proj_output_tap(int layer);
MIKE_API std::string layer_output_tap(int layer);

struct ValueOptimisation {
  int steps = 25;                 // Adam steps on δ
  double lr = 0.5;                // Adam learning rate
  double preserve_factor = 0.0625;  // weight of the preservation term
  double weight_decay = 1.0e-3;   // weight of ‖δ‖² / ‖h‖²
  double clamp_norm_factor = 4.0; // ‖δ‖ ≤ this x ‖h‖ (h = activation being shifted)
  double stop_loss = 5.0e-2;      // stop once the target NLL is below this
  // Neutral prompt (same image) whose original greedy answer must stay likely:
  // the preservation term. ROME uses KL to the original next-token
  // distribution; the Model interface exposes no logits, so this is the NLL of
  // the original greedy continuation (the KL to its one-hot mode). "" = off.
  std::string preserve_prompt = "Describe the image.";
};

struct ValueResult {
  torch::Tensor shift;   // δ [d] (float32)
  double loss_first = 0.0, loss_last = 0.0;
  int steps = 0;
  bool preserved = false;  // whether the preservation term was used
};

// ROME eq. 4: the shift δ of the activation at `tap` (at the last prompt token
// of every templated input) that makes the model produce the edit's target.
MIKE_API ValueResult optimise_value_shift(Model& model, const std::string& tap, const EditRequest& edit,
                                          const std::vector<std::string>& context_templates,
                                          const ValueOptimisation& options);

// ---- the editors ------------------------------------------------------------

enum class LocateEditMethod { kRome, kMemit, kAlphaEdit };

struct LocateEditOptions {
  LocateEditMethod method = LocateEditMethod::kRome;
  std::vector<int> layers;                       // LM layers whose mlp.down_proj changes
  std::vector<std::string> context_templates;    // "{}" = the edit prompt
  ValueOptimisation value;
  LayerStatsOptions stats;
  double stats_ridge = 1.0e-4;  // C + ridge·mean(diag C)·I: keeps the solves regular
  double lambda = 1.5e4;        // MEMIT's mom2_update_weight (eq. 14's λ)
  double nullspace_threshold = 1.0e-2;  // AlphaEdit: relative eigenvalue cut-off
  double l2 = 10.0;             // AlphaEdit's regulariser of eq. 11

  // Reads the editor config group (keys documented in each plugin's yaml);
  // throws ConfigError naming the key for a bad value.
  static LocateEditOptions from_config(const Config& config, LocateEditMethod method);
};

// The editor state: second moments are computed (or read from the cache) once
// per layer, on the model as it is at the first edit.
class MIKE_API LocateThenEdit {
 public:
  explicit LocateThenEdit(LocateEditOptions options);
  // Applies the edits in place; the result restores the touched weights.
  std::unique_ptr<EditedModel> edit(Model& model, const std::vector<EditRequest>& requests);
  // C (+ ridge) of `layer`'s down-projection input, computed on first use.
  const torch::Tensor& second_moment(Model& model, int layer);
  // For tests: use `second_moment` for `layer` instead of the corpus statistics.
  void set_second_moment(int layer, torch::Tensor second_moment);
  const LocateEditOptions& options() const { return options_; }

 private:
  std::map<std::string, double> edit_rome(Model& model, const EditRequest& request);
  std::map<std::string, double> edit_memit(Model& model, const std::vector<EditRequest>& requests);
  const torch::Tensor& projector(Model& model, int layer);

  LocateEditOptions options_;
  std::map<int, torch::Tensor> second_moments_;
  std::map<int, torch::Tensor> projectors_;  // AlphaEdit's P per layer
};

// The Editor the rome, memit and alphaedit plugins export: each is this class
// with its method (rome edits requests one after another; memit/alphaedit
// solve for a whole batch at once).
class MIKE_API LocateEditEditor : public Editor {
 public:
  LocateEditEditor(const Config& config, LocateEditMethod method)
      : engine_(LocateEditOptions::from_config(config, method)) {}
  ~LocateEditEditor() override;
  bool supports_batch() const override { return engine_.options().method != LocateEditMethod::kRome; }
  std::unique_ptr<EditedModel> edit(Model& model, const std::vector<EditRequest>& requests) override {
    return engine_.edit(model, requests);
  }
  LocateThenEdit& engine() { return engine_; }

 private:
  LocateThenEdit engine_;
};

}  // namespace mike
