#include "scope_classifier.h"

#include <torch/torch.h>

#include "fitted_state.h"
#include "mike/error.h"
#include "row_cursor.h"

namespace mike::serac {

namespace {
constexpr const char* kEditor = "serac";
}

torch::Tensor input_features(Model& model, const std::vector<ScoreRequest>& batch, int block,
                             std::vector<ScoreResult>* results) {
  if (batch.empty()) return torch::Tensor();
  torch::NoGradGuard no_grad;
  const std::vector<TokenLayout> layouts = model.token_layout(batch);
  memory_routing::RowCursor cursor =
      memory_routing::RowCursor::for_rows(memory_routing::row_shapes(layouts, kEditor), kEditor);
  const std::string tap = edit_site(model, block, "editor serac: classifier_layer").block_output_tap;
  std::vector<torch::Tensor> rows(batch.size());
  TapHandle handle = model.add_tap(tap, [&](const std::string& name, const torch::Tensor& x) {
    const auto spans = cursor.take(x, name);
    if (!spans) return x;
    for (const memory_routing::RowSpan& span : *spans) {
      const TokenLayout& layout = layouts[span.request];
      const torch::Tensor row = x[span.row].to(torch::kFloat32);
      const torch::Tensor prompt = row.slice(0, span.first, span.first + span.prompt);
      torch::Tensor text_sum = prompt.sum(0);
      std::int64_t text_count = span.prompt;
      torch::Tensor image_mean = torch::zeros({row.size(1)}, row.options());
      if (layout.image_begin >= 0 && layout.image_end > layout.image_begin) {
        const torch::Tensor image = row.slice(0, span.first + layout.image_begin, span.first + layout.image_end);
        image_mean = image.mean(0);
        text_sum = text_sum - image.sum(0);
        text_count -= image.size(0);
      }
      const torch::Tensor text_mean = text_sum / static_cast<double>(std::max<std::int64_t>(text_count, 1));
      rows[span.request] = torch::cat({torch::nn::functional::normalize(image_mean, torch::nn::functional::NormalizeFuncOptions().dim(0)),
                                       torch::nn::functional::normalize(text_mean, torch::nn::functional::NormalizeFuncOptions().dim(0))})
                               .to(torch::kCPU);
    }
    return x;
  });
  std::vector<ScoreResult> scored = model.score(batch);
  handle.reset();
  std::vector<TokenLayout> scored_layouts;
  for (const ScoreResult& r : scored) scored_layouts.push_back(r.layout);
  cursor.check_columns(scored_layouts);
  if (results) *results = std::move(scored);
  return torch::stack(rows);
}

ScopeClassifier::ScopeClassifier(std::int64_t features)
    : projection_(torch::eye(features, torch::kFloat32)),
      offset_(torch::tensor(0.5F)),
      log_scale_(torch::tensor(static_cast<float>(std::log(10.0)))) {}

torch::Tensor ScopeClassifier::embed(const torch::Tensor& features) const {
  return torch::nn::functional::normalize(features.matmul(projection_.t()),
                                          torch::nn::functional::NormalizeFuncOptions().dim(1));
}

torch::Tensor ScopeClassifier::logits(const torch::Tensor& queries, const torch::Tensor& edits) const {
  return log_scale_.exp() * (queries.matmul(edits.t()) - offset_);
}

ClassifierFit ScopeClassifier::train(const torch::Tensor& query_features, const torch::Tensor& edit_features,
                                     const torch::Tensor& labels, const ClassifierTraining& options) {
  if (!ready()) throw Error("editor serac: the scope classifier was trained before it was made");
  const torch::Tensor positive = labels > 0.5;
  const double positives = positive.sum().item<double>();
  const double negatives = static_cast<double>(labels.numel()) - positives;
  if (positives < 1 || negatives < 1)
    throw DataError("editor serac: the train split gives the scope classifier " + std::to_string(int(positives)) +
                    " in-scope and " + std::to_string(int(negatives)) +
                    " out-of-scope pairs; it needs both (a train split of at least two entities with rephrased "
                    "questions or other photos)");
  // Each class weighs half of the loss, so the many out-of-scope pairs do not
  // teach the classifier to call everything out of scope.
  const torch::Tensor weights = torch::where(positive, torch::full_like(labels, 0.5 / positives),
                                             torch::full_like(labels, 0.5 / negatives));
  std::vector<torch::Tensor> tuned{projection_, offset_, log_scale_};
  for (torch::Tensor& t : tuned) t.set_requires_grad(true);
  torch::optim::Adam adam(tuned, torch::optim::AdamOptions(options.lr));
  auto loss_now = [&] {
    const torch::Tensor z = logits(embed(query_features), embed(edit_features));
    return torch::binary_cross_entropy_with_logits(z, labels, weights, {}, at::Reduction::Sum);
  };
  ClassifierFit fit;
  for (int step = 0; step < options.steps; ++step) {
    adam.zero_grad();
    const torch::Tensor loss = loss_now();
    if (step == 0) fit.loss_first = loss.item<double>();
    loss.backward();
    adam.step();
  }
  torch::NoGradGuard no_grad;
  for (torch::Tensor& t : tuned) {
    t.set_requires_grad(false);
    t.mutable_grad().reset();
  }
  const torch::Tensor z = logits(embed(query_features), embed(edit_features));
  fit.loss_last = torch::binary_cross_entropy_with_logits(z, labels, weights, {}, at::Reduction::Sum).item<double>();
  const torch::Tensor called = z > 0;
  fit.positive_accuracy = (called & positive).sum().item<double>() / positives;
  fit.negative_accuracy = ((~called) & (~positive)).sum().item<double>() / negatives;
  return fit;
}

void ScopeClassifier::save(FittedState& state, const std::string& prefix) const {
  state[prefix + "projection"] = projection_.clone();
  state[prefix + "offset"] = offset_.clone().reshape({1});
  state[prefix + "log_scale"] = log_scale_.clone().reshape({1});
}

void ScopeClassifier::load(const FittedState& state, const std::string& prefix, const std::string& editor) {
  const torch::Tensor& w = site_gradients::fitted_entry(state, prefix + "projection", editor);
  if (w.dim() != 2 || w.size(0) != w.size(1) || w.size(0) < 2)
    throw Error("editor " + editor + ": fitted tensor '" + prefix + "projection' is " + shape_string(w) +
                ", expected a square matrix");
  projection_ = site_gradients::fitted_float(state, prefix + "projection", {w.size(0), w.size(1)}, editor);
  offset_ = site_gradients::fitted_float(state, prefix + "offset", {1}, editor).reshape({});
  log_scale_ = site_gradients::fitted_float(state, prefix + "log_scale", {1}, editor).reshape({});
}

}  // namespace mike::serac
