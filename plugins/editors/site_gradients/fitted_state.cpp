#include "fitted_state.h"

#include <torch/torch.h>

#include <cmath>

#include "mike/error.h"

namespace mike::site_gradients {

const torch::Tensor& fitted_entry(const FittedState& state, const std::string& name, const std::string& editor) {
  const auto it = state.find(name);
  if (it == state.end()) throw Error("editor " + editor + ": the fitted state has no tensor '" + name + "'");
  return it->second;
}

torch::Tensor fitted_float(const FittedState& state, const std::string& name, const std::vector<std::int64_t>& shape,
                           const std::string& editor) {
  const torch::Tensor& t = fitted_entry(state, name, editor);
  if (t.sizes() != torch::IntArrayRef(shape) || t.scalar_type() != torch::kFloat32)
    throw Error("editor " + editor + ": fitted tensor '" + name + "' is " + shape_string(t) + " " +
                std::string(t.dtype().name()) + ", expected " + shape_string(torch::empty(shape, torch::kFloat32)) +
                " float");
  if (!torch::isfinite(t).all().item<bool>())
    throw Error("editor " + editor + ": fitted tensor '" + name + "' holds non-finite values");
  return t.clone();
}

torch::Tensor blocks_tensor(const std::vector<int>& blocks) {
  return torch::tensor(std::vector<std::int64_t>(blocks.begin(), blocks.end()), torch::kInt64);
}

void check_fitted_blocks(const FittedState& state, const std::vector<int>& blocks, const std::string& editor) {
  const torch::Tensor& layers = fitted_entry(state, "layers", editor);
  if (layers.scalar_type() != torch::kInt64 || layers.dim() != 1 ||
      std::vector<std::int64_t>(layers.data_ptr<std::int64_t>(), layers.data_ptr<std::int64_t>() + layers.numel()) !=
          std::vector<std::int64_t>(blocks.begin(), blocks.end()))
    throw Error("editor " + editor + ": the fitted state was trained for other layers than `layers` of this config");
}

std::vector<EditSite> sites_of_blocks(const Model& model, const std::vector<int>& blocks, const std::string& editor) {
  std::vector<EditSite> sites;
  for (int block : blocks) sites.push_back(edit_site(model, block, "editor " + editor + ": layers"));
  return sites;
}

double add_to_weights(Model& model, const std::vector<EditSite>& sites, const std::vector<torch::Tensor>& updates) {
  torch::NoGradGuard no_grad;
  double squared = 0;
  for (std::size_t l = 0; l < sites.size(); ++l) {
    if (!updates[l].defined()) continue;
    torch::Tensor weight = model.parameter(sites[l].weight);
    weight.add_(updates[l].to(weight.scalar_type()));
    squared += updates[l].pow(2).sum().item<double>();
  }
  return std::sqrt(squared);
}

}  // namespace mike::site_gradients
