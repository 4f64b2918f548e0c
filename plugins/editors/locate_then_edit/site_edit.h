#pragma once
// Applying a locate-then-edit to a model's edit sites: resolving the
// configured layers through Model::edit_sites(), snapshotting the weights,
// undoing a half-applied edit on failure, and MEMIT's spread of the residual
// over several layers (Alg. 1), which memit and alphaedit share with their
// own closed-form solve.
#include <torch/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mike/editor.h"
#include "settings.h"

namespace mike::locate_edit {

using EditStats = std::map<std::string, double>;

// The edit sites of `layers`; ConfigError naming `key` when the model lacks one.
std::vector<EditSite> resolve_sites(const Model& model, const std::vector<int>& layers, const std::string& key);

// The tap where the value shift of an edit of `sites` is optimised: the
// output of the last edited block (ROME eq. 4, MEMIT eq. 16).
const std::string& value_tap(const std::vector<EditSite>& sites);

// Runs `apply` (which changes the sites' weights in place) with the weights
// snapshotted first: on an exception they are written back and the exception
// rethrown; on success the result restores them, then calls `forget`
// (AlphaEdit drops the restored edit's keys).
std::unique_ptr<EditedModel> edit_in_place(Model& model, const std::vector<EditSite>& sites,
                                           const std::function<EditStats()>& apply, std::function<void()> forget = {});

// One layer's closed-form solve: ΔW [d_out, d_in] (float64) from that layer's
// keys K [d_in, n] and the residual R [d_out, n] it should take on.
using LayerSolve = std::function<torch::Tensor(const EditSite& site, const torch::Tensor& keys,
                                               const torch::Tensor& residuals)>;

// MEMIT Alg. 1 with `solve` for each layer: target values z_i = h_i^L + δ_i at
// the last site's block output (eq. 16; `values` holds each request's δ_i,
// from value_shifts() at value_tap(sites)), then bottom-up per site: keys with
// the layers below already updated, the remaining residual spread evenly over
// the remaining layers (eq. 15), W += solve(...). `keys_used` receives each
// block's keys [d_in, n]. Returns the edit's statistics.
EditStats spread_over_layers(Model& model, const std::vector<EditSite>& sites, const std::vector<EditRequest>& requests,
                             const Settings& settings, const std::vector<ValueResult>& values,
                             const LayerSolve& solve, std::map<int, torch::Tensor>& keys_used);

}  // namespace mike::locate_edit
