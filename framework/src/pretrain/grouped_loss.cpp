#include "pretrain/grouped_loss.h"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>

#include "mike/error.h"

namespace mike {

double accumulate_grouped_loss(Model& model, const std::vector<ScoreRequest>& batch,
                               const std::vector<std::size_t>& target_tokens, const std::vector<std::size_t>& lengths,
                               int groups) {
  if (target_tokens.size() != batch.size() || lengths.size() != batch.size())
    throw Error("accumulate_grouped_loss: " + std::to_string(batch.size()) + " records but " +
                std::to_string(target_tokens.size()) + " token counts and " + std::to_string(lengths.size()) +
                " lengths");
  if (batch.empty()) throw Error("accumulate_grouped_loss: empty batch");
  const std::size_t group_count = std::clamp<std::size_t>(static_cast<std::size_t>(std::max(groups, 1)), 1, batch.size());
  if (group_count == 1) {
    torch::Tensor loss = model.loss(batch);
    loss.backward();
    return loss.item<double>();
  }
  std::vector<std::size_t> order(batch.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  // Stable, so equal lengths keep the draw order and a run is reproducible.
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return lengths[a] < lengths[b]; });
  // Each pass's gradients are summed here, not by letting backward()
  // accumulate into .grad: LibTorch 1.13's AccumulateGrad may keep an incoming
  // gradient that is a view as the .grad itself, and on a one-image batch the
  // vision tower's class-embedding and position-embedding gradients are views
  // of one buffer, so the next backward's in-place accumulation into one adds
  // into the other too (test_grouped_loss caught it: 1.5x the true gradient
  // after two half-weighted passes; finite differences agree with one pass).
  std::vector<torch::Tensor> params, sums;
  for (const std::string& name : model.parameter_names()) {
    torch::Tensor p = model.parameter(name);
    if (!p.requires_grad()) continue;
    params.push_back(p);
    sums.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
    p.mutable_grad() = torch::Tensor();
  }
  const double total_tokens =
      static_cast<double>(std::accumulate(target_tokens.begin(), target_tokens.end(), std::size_t{0}));
  double value = 0.0;
  for (std::size_t g = 0; g < group_count; ++g) {
    const std::size_t begin = g * batch.size() / group_count, end = (g + 1) * batch.size() / group_count;
    std::vector<ScoreRequest> group;
    std::size_t group_tokens = 0;
    for (std::size_t k = begin; k < end; ++k) {
      group.push_back(batch[order[k]]);
      group_tokens += target_tokens[order[k]];
    }
    const double weight = static_cast<double>(group_tokens) / total_tokens;
    torch::Tensor loss = model.loss(group) * weight;
    loss.backward();
    value += loss.item<double>();
    for (std::size_t k = 0; k < params.size(); ++k) {
      torch::Tensor& grad = params[k].mutable_grad();
      if (!grad.defined()) continue;
      if (sums[k].defined())
        sums[k].add_(grad);
      else
        sums[k] = grad.clone();
      grad = torch::Tensor();
    }
  }
  for (std::size_t k = 0; k < params.size(); ++k) params[k].mutable_grad() = sums[k];
  return value;
}

}  // namespace mike
