#pragma once
// Keys of locate-then-edit: the activation at a tap at each request's key
// position(s), found through the model's TokenLayout (mike/outputs.h), so no
// editor assumes where a model pads its batches.
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "mike/editor.h"

namespace mike::locate_edit {

// Which token's activation is the key (and where the value shift is added).
enum class KeyPosition {
  kLastImageToken,   // the last image feature: the subject, as ROME keys on the subject's last token
  kLastPromptToken,  // the token that predicts the target's first token
  // Every position that predicts a scored token (the last prompt token, then
  // each answer token but the last, then the last for EOS): one key and one
  // value per answer token, written together by MEMIT's least squares.
  // Beyond the papers: for models too shallow to spell a new multi-token
  // answer from one value vector (no layers above the edit to decode it).
  kAnswerTokens,
};
inline constexpr const char* kKeyPositionChoices = "last_image_token, last_prompt_token or answer_tokens";
// "last_image_token" | "last_prompt_token" | "answer_tokens"; ConfigError otherwise.
KeyPosition parse_key_position(const std::string& name);
const char* key_position_name(KeyPosition position);

// Row positions (TokenLayout positions, not batch columns) of each request's keys.
using KeyPositions = std::vector<std::vector<std::int64_t>>;

struct KeyCapture {
  torch::Tensor at_key;    // [sum of keys per request, d], request-major
  KeyPositions positions;  // per request: the row position of each key, in order
  // Per request: the token ids scoring covered (the target's, then EOS if
  // requested), as the model tokenised them.
  std::vector<std::vector<std::int64_t>> target_tokens;
};

// Scores `requests` and reads the activation at `tap` at their key positions.
// Throws DataError for kLastImageToken on an input without an image and
// ModelError when the tap is not a [batch, tokens, dim] language-model tap.
KeyCapture capture_keys(Model& model, const std::string& tap, const std::vector<ScoreRequest>& requests,
                        KeyPosition position);
// capture_keys(...).at_key.
torch::Tensor activations_at_key(Model& model, const std::string& tap, const std::vector<ScoreRequest>& requests,
                                 KeyPosition position);

// Batch columns of `positions` in the single forward loss()/target_log_probs()
// run over `requests` (Model::token_layout).
KeyPositions columns_in_forward(Model& model, const std::vector<ScoreRequest>& requests, const KeyPositions& positions);
// x + shift[first_rows[r] + j] at row r's j-th column (first_rows empty: all
// 0, i.e. every row shares shift [keys per row, d]).
torch::Tensor add_at_columns(const torch::Tensor& x, const torch::Tensor& shift, const KeyPositions& columns,
                             const std::vector<std::int64_t>& first_rows = {});

// The edit's input with its prompt put into each context template ("{}" marks
// the prompt), one ScoreRequest per template, target = the edit's target
// followed by EOS (so the value also ends the answer).
std::vector<ScoreRequest> templated_requests(const EditRequest& edit, const std::vector<std::string>& context_templates);

}  // namespace mike::locate_edit
