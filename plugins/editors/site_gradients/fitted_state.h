#pragma once
// Reading and writing a trained editor's FittedState (mike/editor.h) the
// same way in every editor of this kind: every tensor checked for presence,
// shape, dtype and finite values before it is used, with one message naming
// the editor and the tensor, since a cached fit is a file someone can damage.
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "mike/editor.h"
#include "mike/model.h"

namespace mike::site_gradients {

// The tensor `name` (mike::Error "editor <editor>: the fitted state has no tensor '<name>'").
const torch::Tensor& fitted_entry(const FittedState& state, const std::string& name, const std::string& editor);

// A float32 tensor of exactly `shape` with finite values, cloned.
torch::Tensor fitted_float(const FittedState& state, const std::string& name, const std::vector<std::int64_t>& shape,
                           const std::string& editor);

// The edited LM blocks as the state's "layers" tensor, and the check that a
// state was trained for exactly `blocks` (the config's `layers`).
torch::Tensor blocks_tensor(const std::vector<int>& blocks);
void check_fitted_blocks(const FittedState& state, const std::vector<int>& blocks, const std::string& editor);

// The edit sites of `blocks`, in that order (ConfigError naming "editor <editor>: layers").
std::vector<EditSite> sites_of_blocks(const Model& model, const std::vector<int>& blocks, const std::string& editor);

// Adds updates[l] to site l's weight in place (no gradient); returns the
// Frobenius norm of all of them together.
double add_to_weights(Model& model, const std::vector<EditSite>& sites, const std::vector<torch::Tensor>& updates);

}  // namespace mike::site_gradients
