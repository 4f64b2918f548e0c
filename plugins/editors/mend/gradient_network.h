#pragma once
// MEND's gradient network (Mitchell et al., ICLR 2022, "Fast Model Editing
// at Scale", sec. 3.1-3.2): for a linear layer W [out, in] whose gradient for
// one token is the rank-1 product delta u^T (u the layer's input, delta the
// loss gradient at its output), it maps (u, delta) to pseudo-factors
// (u~, delta~) and the edit is  W' = W - eta * sum_t delta~_t u~_t^T
// (sec. 3.1, eq. 3 with the learned per-layer step eta of sec. 3.2).
//
// As in the reference code (eric-mitchell/mend, algs/mend.py and nn.py, the
// `combine`, IDMLP, init "id" configuration EasyEdit also uses): u and delta
// are standardised per dimension (sec. 3.2 "Normalising the input"), joined
// as one vector z = [u; delta], passed through `hidden + 1` low-rank residual
// layers  z <- z + act(A_l (B_l (z * (1 + scale_l[m]) + shift_l[m])) + b_l)
// (act = ReLU on hidden layers, identity on the last; A_l starts at zero, so
// the untrained network is the identity on the standardised factors), and
// split back into (u~, delta~). One network serves every edited layer of the
// same shape; the layer's index m selects its scale/shift ("layer-specific
// modulation", sec. 3.2). The standardisation uses statistics of the training
// edits' factors measured once before training (the reference updates them
// online during the first pass; they then stay fixed there too).
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "mike/editor.h"

namespace mend {

class GradientNetwork {
 public:
  GradientNetwork() = default;
  // A new network for layers of input width `in` and output width `out`,
  // shared by `modes` layers; B_l ~ N(0, 1/rank) from `generator`.
  GradientNetwork(std::int64_t in, std::int64_t out, std::int64_t modes, std::int64_t rank, std::int64_t hidden,
                  at::Generator& generator, torch::Device device);

  std::int64_t in_dim() const { return in_; }
  std::int64_t out_dim() const { return out_; }

  // Per-dimension mean and standard deviation of u and delta over `u` [N, in]
  // and `delta` [N, out] (rows of every training edit).
  void set_normalisation(const torch::Tensor& u, const torch::Tensor& delta);

  // (u~, delta~) for the rows of `u` [N, in], `delta` [N, out] of layer `mode`.
  std::pair<torch::Tensor, torch::Tensor> transform(const torch::Tensor& u, const torch::Tensor& delta,
                                                    std::int64_t mode) const;

  // The trained tensors (requires_grad on): what the optimiser updates.
  std::vector<torch::Tensor> parameters() const;

  // Writes / reads the tensors under `prefix` (e.g. "net0."); read() checks
  // every tensor's presence and shape and throws mike::Error naming it.
  void write(const std::string& prefix, mike::FittedState& state) const;
  static GradientNetwork read(const std::string& prefix, const mike::FittedState& state, std::int64_t in,
                              std::int64_t out, std::int64_t modes, std::int64_t rank, std::int64_t hidden);
  // The same network with every tensor on `device` (trained ones stay trainable).
  void to(torch::Device device);

 private:
  struct Layer {
    torch::Tensor a, b, bias, scale, shift;  // A [D, r], B [r, D], bias [D], scale/shift [modes, D]
  };
  std::int64_t in_ = 0, out_ = 0;
  std::vector<Layer> layers_;
  torch::Tensor u_mean_, u_std_, delta_mean_, delta_std_;
};

}  // namespace mend
