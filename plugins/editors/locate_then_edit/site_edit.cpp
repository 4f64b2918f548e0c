// Edit sites, in-place application and MEMIT's layer spread (see site_edit.h).
#include "site_edit.h"

#include <torch/torch.h>

#include <cmath>

#include "closed_forms.h"
#include "mike/error.h"

namespace mike::locate_edit {
namespace {

// An applied locate-then-edit: restoring it writes the weights back and, for
// AlphaEdit, forgets its keys so later edits no longer protect them.
class SiteEdit : public InPlaceEdit {
 public:
  SiteEdit(Model& inner, ParameterSnapshot before, EditStats stats, std::function<void()> forget)
      : InPlaceEdit(inner, std::move(before), std::move(stats)), forget_(std::move(forget)) {}
  void restore_original() override {
    InPlaceEdit::restore_original();
    if (forget_) forget_();
    forget_ = nullptr;
  }

 private:
  std::function<void()> forget_;
};

}  // namespace

std::vector<EditSite> resolve_sites(const Model& model, const std::vector<int>& layers, const std::string& key) {
  std::vector<EditSite> sites;
  for (int layer : layers) sites.push_back(edit_site(model, layer, key));
  return sites;
}

const std::string& value_tap(const std::vector<EditSite>& sites) {
  if (sites.empty()) throw Error("locate-then-edit: no edit sites to place a value shift at");
  return sites.back().block_output_tap;
}

std::unique_ptr<EditedModel> edit_in_place(Model& model, const std::vector<EditSite>& sites,
                                           const std::function<EditStats()>& apply, std::function<void()> forget) {
  std::vector<std::string> weights;
  for (const EditSite& site : sites) weights.push_back(site.weight);
  ParameterSnapshot before = model.snapshot(weights);
  EditStats stats;
  try {
    stats = apply();
  } catch (...) {
    model.restore(before);  // never leave a half-applied edit behind
    throw;
  }
  return std::make_unique<SiteEdit>(model, std::move(before), std::move(stats), std::move(forget));
}

EditStats spread_over_layers(Model& model, const std::vector<EditSite>& sites, const std::vector<EditRequest>& requests,
                             const Settings& settings, const std::vector<ValueResult>& values,
                             const LayerSolve& solve, std::map<int, torch::Tensor>& keys_used) {
  const std::string& top = value_tap(sites);
  if (values.size() != requests.size())
    throw Error("spread_over_layers: " + std::to_string(values.size()) + " value shifts for " +
                std::to_string(requests.size()) + " requests");
  const KeyPosition position = settings.key_position;
  const auto n = static_cast<std::int64_t>(requests.size());
  const auto templates = static_cast<std::int64_t>(settings.context_templates.size());
  std::vector<ScoreRequest> plain, templated;
  for (const EditRequest& r : requests) {
    plain.push_back(templated_requests(r, {"{}"})[0]);
    for (ScoreRequest& t : templated_requests(r, settings.context_templates)) templated.push_back(std::move(t));
  }
  // MEMIT eq. 16: target z_i = h_i^L + δ_i at the last edited layer's output.
  EditStats stats;
  std::vector<torch::Tensor> shifts;
  for (const ValueResult& value : values) {
    stats["loss_first"] += value.loss_first / n;
    stats["loss_last"] += value.loss_last / n;
    stats["preserve_last"] += value.preserve_last / n;
    stats["value_steps"] += value.steps / static_cast<double>(n);
    shifts.push_back(as_double(value.shift));
  }
  const torch::Tensor targets = as_double(capture_keys(model, top, plain, position).at_key) + torch::cat(shifts);
  double delta_norm = 0.0;
  for (std::size_t i = 0; i < sites.size(); ++i) {
    const EditSite& site = sites[i];
    // Keys with the layers below already updated (MEMIT Alg. 1, line 8), ROME
    // eq. 3's average over context templates per key position.
    const KeyCapture captured = capture_keys(model, site.input_tap, templated, position);
    std::vector<torch::Tensor> averaged;
    std::int64_t row = 0;
    for (std::size_t first = 0; first < captured.positions.size(); first += static_cast<std::size_t>(templates)) {
      const auto count = static_cast<std::int64_t>(captured.positions[first].size());
      torch::Tensor sum = torch::zeros({count, captured.at_key.size(1)}, torch::kFloat64);
      for (std::int64_t t = 0; t < templates; ++t, row += count)
        sum += as_double(captured.at_key.slice(0, row, row + count));
      averaged.push_back(sum / static_cast<double>(templates));
    }
    const torch::Tensor keys = torch::cat(averaged);  // [keys, d_in]
    const torch::Tensor current = as_double(capture_keys(model, top, plain, position).at_key);
    // MEMIT eq. 15: spread what is left of the residual evenly over the remaining layers.
    const torch::Tensor residuals = ((targets - current) / static_cast<double>(sites.size() - i)).t();
    const torch::Tensor delta = solve(site, keys.t(), residuals);
    torch::Tensor weight = model.parameter(site.weight);
    {
      torch::NoGradGuard no_grad;
      weight.add_(delta.to(weight.device(), weight.dtype()));
    }
    keys_used[site.block] = keys.t().contiguous();
    delta_norm += delta.pow(2).sum().item<double>();
  }
  const torch::Tensor reached = as_double(capture_keys(model, top, plain, position).at_key);
  stats["delta_norm"] = std::sqrt(delta_norm);
  stats["target_error"] = ((reached - targets).norm() / targets.norm()).item<double>();
  return stats;
}

}  // namespace mike::locate_edit
