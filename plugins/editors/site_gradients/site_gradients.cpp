#include "site_gradients.h"

#include <torch/torch.h>

#include "mike/edit_training.h"
#include "mike/error.h"

namespace mike::site_gradients {

torch::Tensor SiteFactors::gradient() const { return torch::matmul(delta.t(), u); }

std::vector<SiteFactors> capture_site_gradients(Model& model, const std::vector<EditSite>& sites,
                                                const std::vector<ScoreRequest>& batch, double& loss_value) {
  FrozenParameters frozen(model);
  const std::size_t n = sites.size();
  std::vector<torch::Tensor> inputs(n), leaves(n);
  std::vector<int> calls(2 * n, 0);
  torch::Tensor loss;
  {
    std::vector<TapHandle> taps;
    for (std::size_t i = 0; i < n; ++i) {
      taps.push_back(model.add_tap(sites[i].input_tap, [&, i](const std::string&, const torch::Tensor& x) {
        ++calls[2 * i];
        inputs[i] = x.detach();
        return x;
      }));
      // delta is the gradient at the projection's output: add a zero leaf
      // there and ask autograd for its gradient (the graph stays whole, so a
      // lower site's delta includes the paths through higher sites).
      taps.push_back(model.add_tap(sites[i].output_tap, [&, i](const std::string&, const torch::Tensor& y) {
        ++calls[2 * i + 1];
        leaves[i] = torch::zeros_like(y).requires_grad_(true);
        return y + leaves[i];
      }));
    }
    loss = model.loss(batch);
  }
  for (std::size_t i = 0; i < 2 * n; ++i)
    if (calls[i] != 1)
      throw Error("the model ran tap '" + (i % 2 ? sites[i / 2].output_tap : sites[i / 2].input_tap) + "' " +
                  std::to_string(calls[i]) + " times in one loss() call; reading the edit's gradient needs it once");
  const std::vector<torch::Tensor> grads =
      torch::autograd::grad({loss}, leaves, {}, /*retain_graph=*/false, /*create_graph=*/false, /*allow_unused=*/true);
  loss_value = loss.item<double>();
  std::vector<SiteFactors> out;
  for (std::size_t i = 0; i < n; ++i) {
    const torch::Tensor u = inputs[i].reshape({-1, sites[i].input_dim}).to(torch::kFloat32);
    const torch::Tensor delta = grads[i].defined() ? grads[i].reshape({-1, sites[i].output_dim}).to(torch::kFloat32)
                                                   : torch::zeros({u.size(0), sites[i].output_dim}, u.options());
    const torch::Tensor keep = (u != 0).any(1).logical_and((delta != 0).any(1));
    out.push_back({u.index({keep}), delta.index({keep})});
  }
  return out;
}

OutputShift::OutputShift(Model& model, const std::vector<EditSite>& sites, Shift shift)
    : sites_(sites), shift_(std::move(shift)), inputs_(sites.size()) {
  for (std::size_t l = 0; l < sites_.size(); ++l) {
    taps_.push_back(model.add_tap(sites_[l].input_tap, [this, l](const std::string&, const torch::Tensor& x) {
      inputs_[l] = x;
      return x;
    }));
    taps_.push_back(model.add_tap(sites_[l].output_tap, [this, l](const std::string&, const torch::Tensor& y) {
      if (!inputs_[l].defined())
        throw Error("tap '" + sites_[l].output_tap + "' ran before '" + sites_[l].input_tap + "' in a forward");
      const torch::Tensor x = inputs_[l].to(torch::kFloat32);
      inputs_[l] = torch::Tensor();
      return y + shift_(l, x).to(y.scalar_type());
    }));
  }
}

}  // namespace mike::site_gradients
