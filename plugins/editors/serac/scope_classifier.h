#pragma once
// SERAC's scope classifier (Mitchell et al. 2022, §3.1, the embedding
// variant): an input is embedded, and its logit of falling in the scope of a
// stored edit grows with the cosine similarity of the two embeddings. Here
// an input's features are what the base model itself computes for it: the
// output of one LM block averaged over the image's tokens and over the text
// prompt's tokens (each L2-normalised, then concatenated), so telling two
// photos of one entity from photos of another is up to the model's own view
// of the image. The classifier learns a projection of those features and
// where on the cosine scale scope begins:
//   e(x) = W f(x) / ||W f(x)||,  logit(x, edit) = s (e(x)·e(edit) - b)
// with W, b and s = exp(log_s) trained by binary cross-entropy on the train
// split's in-scope and out-of-scope pairs (the paper's classifier loss).
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "mike/editor.h"
#include "mike/model.h"

namespace mike::serac {

// Features [batch.size(), 2 * block width] of every request's image + prompt
// tokens at LM block `block`'s output (its target tokens do not count:
// attention is causal, so the prompt's features do not depend on it). The
// scored results of that forward are returned through `results` when given,
// since a caller routing the same requests can reuse them.
torch::Tensor input_features(Model& model, const std::vector<ScoreRequest>& batch, int block,
                             std::vector<ScoreResult>* results = nullptr);

struct ClassifierTraining {
  int steps = 500;
  double lr = 1.0e-2;
};

struct ClassifierFit {
  double loss_first = 0, loss_last = 0;
  double positive_accuracy = 0, negative_accuracy = 0;  // on the training pairs, after training
};

class ScopeClassifier {
 public:
  ScopeClassifier() = default;
  // A classifier of `features`-wide inputs, W initialised to the identity
  // (the raw features' cosine) so training starts from the base model's view.
  explicit ScopeClassifier(std::int64_t features);

  bool ready() const { return projection_.defined(); }
  std::int64_t features() const { return ready() ? projection_.size(1) : 0; }
  // Unit embeddings [n, features] of feature rows [n, features].
  torch::Tensor embed(const torch::Tensor& features) const;
  // Logits [queries, edits] of query embeddings against edit embeddings.
  torch::Tensor logits(const torch::Tensor& queries, const torch::Tensor& edits) const;

  // Trains on `labels` [queries, edits] (1 in scope, 0 out) of query
  // features against edit features, the loss balanced between the classes.
  ClassifierFit train(const torch::Tensor& query_features, const torch::Tensor& edit_features,
                      const torch::Tensor& labels, const ClassifierTraining& options);

  // As FittedState entries under `prefix`, and back (checked).
  void save(FittedState& state, const std::string& prefix) const;
  void load(const FittedState& state, const std::string& prefix, const std::string& editor);

 private:
  torch::Tensor projection_;  // W [features, features]
  torch::Tensor offset_;      // b, scalar
  torch::Tensor log_scale_;   // log s, scalar
};

}  // namespace mike::serac
