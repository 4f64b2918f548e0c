#include "side_memory.h"

#include "mike/error.h"

namespace mike::wise {

using memory_routing::RowSpan;

torch::Tensor prompt_activation_scores(const torch::Tensor& gap, const std::vector<RowSpan>& spans) {
  const torch::Tensor norms = gap.norm(2, -1);  // [rows, width]: Δ_act per token
  std::vector<torch::Tensor> scores;
  for (const RowSpan& s : spans) scores.push_back(norms[s.row].slice(0, s.first, s.first + s.prompt).mean());
  return torch::stack(scores);
}

SideMemories::SideMemories(Model& base, EditSite site, double act_ratio, Retrieval retrieval)
    : base_(base), site_(std::move(site)), act_ratio_(act_ratio), retrieval_(retrieval), undo_("wise") {
  handles_.push_back(base_.add_tap(site_.input_tap, [this](const std::string&, const torch::Tensor& x) {
    if (mode_ != Mode::off) input_ = x;
    return x;
  }));
  handles_.push_back(
      base_.add_tap(site_.output_tap, [this](const std::string&, const torch::Tensor& y) { return on_output(y); }));
}

SideMemories::Scope::Scope(SideMemories& memories, Route route) : memories_(memories) {
  memories_.route_ = std::move(route);
  memories_.mode_ = memories_.route_.mode;
}

SideMemories::Scope::~Scope() {
  memories_.mode_ = Mode::off;
  memories_.input_ = torch::Tensor();
}

std::vector<const SideMemory*> SideMemories::routable() const {
  std::vector<const SideMemory*> out;
  for (const SideMemory& m : state_.saved) out.push_back(&m);
  if (state_.current.edits > 0) out.push_back(&state_.current);
  return out;
}

namespace {

torch::Tensor gap_of(const torch::Tensor& x, const torch::Tensor& delta) {
  return torch::matmul(x, delta.to(x.dtype()).t());  // A(x) (W_v' - W_v)ᵀ
}

}  // namespace

torch::Tensor SideMemories::on_output(const torch::Tensor& y) {
  if (mode_ == Mode::off) return y;
  if (!input_.defined() || input_.dim() != 3 || y.dim() != 3 || input_.size(0) != y.size(0) ||
      input_.size(1) != y.size(1))
    throw ModelError("editor wise: the taps '" + site_.input_tap + "' and '" + site_.output_tap +
                     "' must give [batch, tokens, dim] activations of one forward");
  const std::optional<std::vector<RowSpan>> spans = route_.cursor.take(y, site_.output_tap);
  if (!spans) {
    // A decoding step after a generate's prompt keeps the prompt's memory.
    if (mode_ != Mode::infer || route_.decided < 0) return y;
    return y + gap_of(input_, routable().at(static_cast<std::size_t>(route_.decided))->delta);
  }
  if (mode_ == Mode::measure) {
    const std::vector<const SideMemory*> memories = routable();
    for (const SideMemory* m : memories) {
      const torch::Tensor scores = prompt_activation_scores(gap_of(input_, m->delta), *spans).to(torch::kFloat64).cpu();
      for (std::size_t k = 0; k < spans->size(); ++k) {
        const std::size_t request = (*spans)[k].request;
        if (route_.memory_scores.size() <= request) route_.memory_scores.resize(request + 1);
        route_.memory_scores[request].push_back(scores[static_cast<std::int64_t>(k)].item<double>());
      }
    }
    return y;
  }
  if (mode_ == Mode::train) {
    const torch::Tensor gap = gap_of(input_, route_.delta);
    const torch::Tensor scores = prompt_activation_scores(gap, *spans);
    for (std::size_t k = 0; k < spans->size(); ++k) {
      const std::size_t request = (*spans)[k].request;
      if (route_.scores.size() <= request) route_.scores.resize(request + 1);
      route_.scores[request] = scores[static_cast<std::int64_t>(k)];
    }
    return route_.in_scope ? y + gap : y;
  }
  return routed(y, *spans);
}

torch::Tensor SideMemories::routed(const torch::Tensor& y, const std::vector<RowSpan>& spans) {
  const std::vector<const SideMemory*> memories = routable();
  std::vector<int> choice(spans.size(), -1);
  std::vector<double> best(spans.size(), 0.0);
  std::vector<torch::Tensor> gaps;
  for (std::size_t m = 0; m < memories.size(); ++m) {
    gaps.push_back(gap_of(input_, memories[m]->delta));
    const torch::Tensor scores = prompt_activation_scores(gaps.back(), spans).to(torch::kFloat64).cpu();
    for (std::size_t k = 0; k < spans.size(); ++k) {
      const double s = scores[static_cast<std::int64_t>(k)].item<double>(), epsilon = threshold(*memories[m]);
      const double rank = retrieval_ == Retrieval::relative ? s / epsilon : s;
      if (s > epsilon && (choice[k] < 0 || rank > best[k])) {
        choice[k] = static_cast<int>(m);
        best[k] = rank;
      }
    }
  }
  for (std::size_t k = 0; k < spans.size(); ++k) {
    const std::size_t request = spans[k].request;
    if (route_.chosen.size() <= request) route_.chosen.resize(request + 1, -1);
    route_.chosen[request] = choice[k];
  }
  if (route_.cursor.generating()) route_.decided = choice.at(0);
  torch::Tensor out = y;
  for (std::size_t k = 0; k < spans.size(); ++k) {
    if (choice[k] < 0) continue;
    if (out.is_same(y)) out = y.clone();
    const std::int64_t row = spans[k].row;
    out[row] = y[row] + gaps[static_cast<std::size_t>(choice[k])][row];
  }
  return out;
}

}  // namespace mike::wise
