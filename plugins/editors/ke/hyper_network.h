#pragma once
// KE's hypernetwork (De Cao, Aziz and Titov, EMNLP 2021, "Editing Factual
// Knowledge in Language Models", sec. 3, fig. 2; reference code
// nicola-decao/KnowledgeEditor, src/models/one_shot_learner.py).
//
// A bidirectional LSTM reads the edit and its last states, joined, pass a
// tanh layer: the condition c (sec. 3.2, "we use a bidirectional LSTM to
// encode <x, y, a>"). For each edited weight W [out, in] a small network
// h = tanh(W1 c + b1) predicts (alpha_col [in], alpha_row [out], beta_col,
// beta_row, eta) = W2 h + b2, and the update is
//   dW = max_scale * sigmoid(eta) * (softmax(alpha_row) alpha_col^T (.) grad_W L
//                                    + softmax(beta_row) beta_col^T)        (eq. 4)
// a low-rank reweighting of the edit's gradient plus a rank-1 shift.
//
// What differs from the reference, and why: the LSTM reads the edit as the
// model itself represents it, the rows of the lowest edited site's input at
// the edit's positions (image features, question and new answer), not word
// embeddings of (x, y, a) from a copy of the embedding matrix: the SDK gives
// editors activations through taps, not a model's embeddings, and for a
// multimodal edit the image is part of what is edited. Those rows are
// standardised per dimension with statistics of the training edits. The
// original prediction y is not read (the runner's edit requests carry the new
// answer only). The reference's weight normalisation of the linear layers is
// left out (a reparametrisation for optimisation, not part of the update).
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mike/editor.h"

namespace ke {

struct Sizes {
  std::int64_t sequence_dim = 0;  // width of the rows the LSTM reads
  std::int64_t lstm_hidden = 64, condition_dim = 128, hidden_dim = 64;
  std::vector<std::pair<std::int64_t, std::int64_t>> sites;  // (in, out) per edited weight
};

class HyperNetwork {
 public:
  HyperNetwork() = default;
  HyperNetwork(Sizes sizes, double max_scale, at::Generator& generator, torch::Device device);

  const Sizes& sizes() const { return sizes_; }
  void set_normalisation(const torch::Tensor& rows);  // rows [N, sequence_dim] of every training edit
  // The condition of one edit from its rows [T, sequence_dim], in order.
  torch::Tensor condition(const torch::Tensor& sequence) const;
  // dW [out, in] for site `site` given the condition and the edit's gradient there.
  torch::Tensor update(std::size_t site, const torch::Tensor& condition, const torch::Tensor& gradient) const;

  std::vector<torch::Tensor> parameters() const;
  void write(mike::FittedState& state) const;
  // Checks every tensor's presence, shape and values (mike::Error naming it).
  static HyperNetwork read(const mike::FittedState& state, Sizes sizes, double max_scale);
  void to(torch::Device device);

 private:
  struct Direction {
    torch::Tensor w_ih, w_hh, bias;  // [4H, D], [4H, H], [4H]
  };
  struct SiteNet {
    torch::Tensor w1, b1, w2, b2;  // [hidden, C], [hidden], [2(in+out)+1, hidden], [2(in+out)+1]
  };
  torch::Tensor run(const Direction& d, const torch::Tensor& x) const;  // last hidden state
  std::vector<std::pair<std::string, torch::Tensor*>> named();
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> shapes() const;

  Sizes sizes_;
  double max_scale_ = 1.0;
  Direction forward_, backward_;
  torch::Tensor cond_w_, cond_b_;  // [C, 2H], [C]
  std::vector<SiteNet> sites_;
  torch::Tensor mean_, std_;  // standardisation of the rows
};

}  // namespace ke
