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
  std::vector<std::int64_t> target_tokens;  // the target's token ids
  std::vector<std::int64_t> predicted_tokens;         // argmax at each target position
  std::vector<std::vector<std::int64_t>> topk_tokens; // top-k ids at each target position
};

}  // namespace mike
