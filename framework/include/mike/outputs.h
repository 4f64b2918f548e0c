#pragma once
// Torch-free per-sample outputs of a model, shared by the runner and metrics.
#include <cstdint>
#include <string>
#include <vector>

namespace mike {

// Teacher-forced scoring of one (prompt, target) pair; only target tokens count.
struct ScoreResult {
  double loss = 0.0;                        // mean NLL over target tokens
  double token_accuracy = 0.0;              // fraction of target tokens predicted (argmax)
  std::vector<std::int64_t> target_tokens;  // the scored token ids (the target's, then EOS if requested)
  std::vector<std::int64_t> predicted_tokens;         // argmax at each target position
  std::vector<std::vector<std::int64_t>> topk_tokens; // top-k ids at each target position
  // Where the tokens sat in the sequence the model ran (prompt with image
  // features spliced in, then the target, then EOS if scored): its length
  // and the image features' span [image_begin, image_end), or -1 without an
  // image. Editors use these to find key positions (last image token, last
  // prompt token) in tap activations; padding comes before position 0.
  std::int64_t sequence_length = 0;
  std::int64_t image_begin = -1, image_end = -1;
};

}  // namespace mike
