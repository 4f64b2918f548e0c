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
// The key position is configurable (KeyPosition): the last image token (the
// multimodal analogue of ROME's last subject token: the image is the subject),
// the last prompt token (the token that predicts the answer's first token),
// or every answer-predicting position (memit/alphaedit). Closed forms run in
// float64.
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

// AlphaEdit eq. 11 (sequential form): ΔW = R Kᵀ P (K_p K_pᵀ P + K Kᵀ P + l2 I)⁻¹,
// equivalently the transpose of (P K_p K_pᵀ + P K Kᵀ + l2 I)⁻¹ P K Rᵀ. K_p
// [d_in, m] holds the keys of earlier edits still applied (undefined or m = 0
// for none): the K_p K_pᵀ P term keeps ΔW K_p small, so a new edit does not
// overwrite the ones before it. Its rows lie in range(P), so ΔW K₀ ≈ 0 for
// every preserved key K₀ (whose directions P removes).
MIKE_API torch::Tensor alphaedit_update(const torch::Tensor& keys, const torch::Tensor& residuals,
                                        const torch::Tensor& projector, double l2,
                                        const torch::Tensor& previous_keys = {});

// ---- keys and values on a model ---------------------------------------------

// Which token's activation is the key (and where the value shift is added).
enum class KeyPosition {
  kLastImageToken,   // the last image feature: the subject, as ROME keys on the subject's last token
  kLastPromptToken,  // the token that predicts the target's first token
  // Every position that predicts an answer token (the last prompt token, then
  // each answer token but the last, then the last for EOS): one key and one
  // value per answer token, written together by MEMIT's least squares.
  // Beyond the papers: for models too shallow to spell a new multi-token
  // answer from one value vector (no layers above the edit to decode it).
  kAnswerTokens,
};
// "last_image_token" | "last_prompt_token" | "answer_tokens"; ConfigError otherwise.
MIKE_API KeyPosition parse_key_position(const std::string& name);
MIKE_API const char* key_position_name(KeyPosition position);

// The activation at `tap` at each request's key position(s): [keys, d],
// request-major (answer_tokens gives several keys per request).
// Throws DataError for kLastImageToken on an input without an image.
MIKE_API torch::Tensor activations_at_key(Model& model, const std::string& tap, const std::vector<ScoreRequest>& requests,
                                          KeyPosition position);

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
  double preserve_last = 0.0;    // the preservation term at the last step
};

// ROME eq. 4: the shift δ of the activation at `tap` (at the key position of
// every templated input) that makes the model produce the edit's target.
MIKE_API ValueResult optimise_value_shift(Model& model, const std::string& tap, const EditRequest& edit,
                                          const std::vector<std::string>& context_templates, KeyPosition position,
                                          const ValueOptimisation& options);

// ---- the editors ------------------------------------------------------------

enum class LocateEditMethod { kRome, kMemit, kAlphaEdit };

struct LocateEditOptions {
  LocateEditMethod method = LocateEditMethod::kRome;
  std::vector<int> layers;                       // LM layers whose mlp.down_proj changes
  std::vector<std::string> context_templates;    // "{}" = the edit prompt
  KeyPosition key_position = KeyPosition::kLastImageToken;
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
// per layer, on the model as it is at the first edit. AlphaEdit also keeps the
// keys of the edits still applied (dropped again when an edit is restored).
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
  // `keys_used` receives each layer's keys [d_in, n] (AlphaEdit's K_p later).
  std::map<std::string, double> edit_memit(Model& model, const std::vector<EditRequest>& requests,
                                           std::map<int, torch::Tensor>& keys_used);
  const torch::Tensor& projector(Model& model, int layer);
  // AlphaEdit's K_p for `layer`: keys of the applied edits, [d_in, m] or undefined.
  torch::Tensor applied_keys(int layer) const;

  // Keys per layer of each applied edit, by edit serial number; shared with
  // the EditedModels so that restore_original() removes its entry.
  using AppliedKeys = std::map<std::uint64_t, std::map<int, torch::Tensor>>;

  LocateEditOptions options_;
  std::map<int, torch::Tensor> second_moments_;
  std::map<int, torch::Tensor> projectors_;  // AlphaEdit's P per layer
  std::shared_ptr<AppliedKeys> applied_ = std::make_shared<AppliedKeys>();
  std::uint64_t next_serial_ = 0;
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
