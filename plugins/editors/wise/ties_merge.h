#pragma once
// TIES-merging (Yadav et al., NeurIPS 2023) of task vectors, as WISE merges
// its knowledge shards (WISE, knowledge merging: W_v' = W_v + Ties(τ_1..τ_k; W_v)),
// with EasyEdit's GTA('magnitude', 'sum', normalize=True) semantics
// (easyeditor/models/wise/merge/gta.py): each τ_i keeps its `density`
// fraction of largest-magnitude entries (trim), is scaled by weight / k, the
// sign of each entry is elected by the sum of the scaled vectors, and the
// entries agreeing with it are averaged with the weights that agree as the
// divisor (disjoint merge). Shards edited in disjoint subspaces therefore
// keep their own values where they do not overlap.
#include <torch/types.h>

#include <vector>

namespace mike::wise {

// `deltas`: the task vectors τ_i = W_i' - W_v, all of one shape; density in
// (0, 1]; `weight`: EasyEdit's `weights` (each vector gets weight / k).
torch::Tensor ties_merge(const std::vector<torch::Tensor>& deltas, double density, double weight);

}  // namespace mike::wise
