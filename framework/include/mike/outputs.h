#pragma once
// Torch-free per-sample outputs of a model, shared by the runner and metrics.
#include <cstdint>
#include <string>
#include <vector>

namespace mike {

// Where one input's tokens sit in the activations taps see ([batch, tokens,
// dim]) during the forward that ran it. Positions count the row's own tokens
// from 0 (image features spliced in where the prompt marks them); position p
// is column `offset + p` of its row, and columns before `offset` (if any) are
// padding. Editors find key positions (last image token, last prompt token,
// answer tokens) from this layout instead of assuming where padding goes.
struct TokenLayout {
  std::int64_t offset = 0;        // column of position 0 in the row's activations
  std::int64_t length = 0;        // the row's own tokens: prompt (with image) + scored target
  std::int64_t image_begin = -1;  // image features at [image_begin, image_end); -1 without an image
  std::int64_t image_end = -1;
  std::int64_t target_begin = -1; // first scored token (target, then EOS if requested); -1 when nothing is scored
  std::int64_t column(std::int64_t position) const { return offset + position; }
};

// Teacher-forced scoring of one (prompt, target) pair; only target tokens count.
struct ScoreResult {
  double loss = 0.0;                        // mean NLL over target tokens
  double token_accuracy = 0.0;              // fraction of target tokens predicted (argmax)
  std::vector<std::int64_t> target_tokens;  // the scored token ids (the target's, then EOS if requested)
  std::vector<double> target_token_log_probs;  // natural-log probability of each target token
  // The ids before the target as fed (BOS, template, prompt), with the
  // model's image token id once per image feature position.
  std::vector<std::int64_t> prompt_tokens;
  std::vector<std::int64_t> predicted_tokens;         // argmax at each target position
  // Argmax at the position after the last scored token: what greedy decoding
  // emits after the target (EOS when the target ends the answer); -1 when the
  // model does not report it. With predicted_tokens it gives the tokens
  // greedy decoding is known to produce (GenerateOptions::known_tokens).
  std::int64_t next_token = -1;
  std::vector<std::vector<std::int64_t>> topk_tokens; // top-k ids at each target position
  // Top-k ids (best first) at every position 0..layout.length-1 of the row,
  // predicting the token after it; filled when ScoreRequest::position_top_k > 0.
  std::vector<std::vector<std::int64_t>> position_topk_tokens;
  TokenLayout layout;                       // where this row's tokens sat in the forward that scored it
};

}  // namespace mike
