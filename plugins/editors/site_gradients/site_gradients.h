#pragma once
// An edit's gradient at the model's edit sites, and updates applied through
// the sites' taps (see CMakeLists.txt here).
//
// For a site's projection y = W x, the gradient of a loss over a forward is
// dL/dW = sum_t delta_t u_t^T over the token positions t of every row, with
// u_t = x_t the projection's input and delta_t = dL/dy_t the gradient at its
// output. capture_site_gradients() returns those rows per site, leaving out
// positions where either is zero (positions after the last target token,
// padding): MEND's nz_mask, and what makes dL/dW's rank <= the rows kept.
#include <torch/types.h>

#include <functional>
#include <vector>

#include "mike/model.h"

namespace mike::site_gradients {

struct SiteFactors {
  torch::Tensor u;      // [N, input_dim] float32
  torch::Tensor delta;  // [N, output_dim] float32
  // dL/dW = delta^T u, [output_dim, input_dim].
  torch::Tensor gradient() const;
};

// One forward (Model::loss over `batch`) and one backward pass; the model's
// own parameters get no gradient. `loss_value` is that forward's loss. Each
// site's taps must run exactly once per forward (else mike::Error).
std::vector<SiteFactors> capture_site_gradients(Model& model, const std::vector<EditSite>& sites,
                                                const std::vector<ScoreRequest>& batch, double& loss_value);

// While alive, every forward of `model` adds shift(l, x) to site l's output,
// x being that forward's input to the site ([batch, tokens, input_dim],
// float32): the forward of a model whose W_l changed by an update U with
// shift = x U^T, differentiable in whatever shift() computes from, while the
// weights stay as they are (e.g. a trained editor's post-edit model during
// fit()). shift() returns [batch, tokens, output_dim].
class OutputShift {
 public:
  using Shift = std::function<torch::Tensor(std::size_t site, const torch::Tensor& x)>;
  OutputShift(Model& model, const std::vector<EditSite>& sites, Shift shift);
  OutputShift(const OutputShift&) = delete;
  OutputShift& operator=(const OutputShift&) = delete;

 private:
  std::vector<EditSite> sites_;
  Shift shift_;
  std::vector<torch::Tensor> inputs_;
  std::vector<TapHandle> taps_;
};

}  // namespace mike::site_gradients
