#pragma once
// One optimisation step's loss over a batch, run as a few forward/backward
// passes of similar-length records instead of one pass padded to the
// longest record. Model::loss is the mean over the batch's target tokens, so
// each group's mean is weighted by its share of the target tokens: the
// accumulated gradient is the whole batch's up to float rounding
// (test_grouped_loss checks this against one pass).
#include <cstddef>
#include <vector>

#include "mike/model.h"

namespace mike {

// Sorts the batch by `lengths` (any estimate of each record's sequence
// length), splits it into `groups` contiguous groups of near-equal size, and
// calls backward() on each group's token-weighted loss; the parameters that
// require grad end with the sum in .grad (added to any grad they had). `target_tokens[i]` is the number of target tokens
// Model::loss scores for batch[i] (answer tokens plus EOS). Returns the
// batch's mean loss (the value one Model::loss call would give).
double accumulate_grouped_loss(Model& model, const std::vector<ScoreRequest>& batch,
                               const std::vector<std::size_t>& target_tokens, const std::vector<std::size_t>& lengths,
                               int groups);

}  // namespace mike
