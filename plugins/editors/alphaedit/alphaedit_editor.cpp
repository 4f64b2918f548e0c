// alphaedit: null-space constrained editing (Fang et al. 2025, "AlphaEdit:
// Null-Space Constrained Knowledge Editing for Language Models"): MEMIT's
// layer spread with each layer's update projected onto the null space of the
// preserved keys (eq. 6) and, in sequential editing, kept off the keys of the
// edits still applied (eq. 11's K_p term). Shared machinery:
// plugins/editors/locate_then_edit.
#include <torch/torch.h>

#include <cstdint>

#include "closed_forms.h"
#include "locate_editor.h"
#include "mike/editor.h"
#include "mike/error.h"
#include "mike/plugin.h"
#include "mike_plugin_default_config.h"
#include "site_edit.h"

namespace {

using namespace mike::locate_edit;

class AlphaEditEditor : public LocateThenEditEditor {
 public:
  explicit AlphaEditEditor(const mike::Config& config)
      : LocateThenEditEditor(config, {false, true, "AlphaEdit"}),
        nullspace_threshold_(config.get<double>("nullspace_threshold")),
        l2_(config.get<double>("l2")) {
    if (nullspace_threshold_ <= 0 || nullspace_threshold_ >= 1)
      throw mike::ConfigError(config_key_where(config, "nullspace_threshold") +
                              " must be in (0, 1) (relative to the largest eigenvalue)");
    if (l2_ <= 0) throw mike::ConfigError(config_key_where(config, "l2") + " must be > 0");
  }

  bool supports_batch() const override { return true; }

  std::unique_ptr<mike::EditedModel> edit(mike::Model& model, const std::vector<mike::EditRequest>& requests) override {
    if (requests.empty()) throw mike::Error("alphaedit: edit() called with no requests");
    const std::vector<mike::EditSite> edit_sites = sites(model);
    std::map<int, torch::Tensor> keys;  // this edit's keys per block [d_in, n]
    auto solve = [&](const mike::EditSite& site, const torch::Tensor& k, const torch::Tensor& r) {
      return alphaedit_update(k, r, projector(model, site), l2_, applied_keys(site.block));
    };
    const std::uint64_t serial = next_serial_++;
    std::weak_ptr<AppliedKeys> store = applied_;
    auto edited = edit_in_place(
        model, edit_sites,
        [&] { return spread_over_layers(model, edit_sites, requests, settings_, values(model, requests), solve, keys); },
        [store, serial] {
          if (auto applied = store.lock()) applied->erase(serial);
        });
    (*applied_)[serial] = std::move(keys);
    return edited;
  }

 private:
  // AlphaEdit eq. 6's P per block, from that block's C.
  const torch::Tensor& projector(mike::Model& model, const mike::EditSite& site) {
    auto found = projectors_.find(site.block);
    if (found != projectors_.end()) return found->second;
    return projectors_[site.block] =
               nullspace_projector(second_moments_.of(model, site, corpus_source()), nullspace_threshold_);
  }
  // K_p of `block`: keys of the applied edits, [d_in, m] or undefined.
  torch::Tensor applied_keys(int block) const {
    std::vector<torch::Tensor> keys;
    for (const auto& [serial, per_block] : *applied_) {
      auto found = per_block.find(block);
      if (found != per_block.end()) keys.push_back(found->second);
    }
    return keys.empty() ? torch::Tensor() : torch::cat(keys, 1);
  }

  // Keys per block of each applied edit, by edit serial number; shared with
  // the EditedModels so that restore_original() removes its entry.
  using AppliedKeys = std::map<std::uint64_t, std::map<int, torch::Tensor>>;

  double nullspace_threshold_, l2_;
  std::map<int, torch::Tensor> projectors_;
  std::shared_ptr<AppliedKeys> applied_ = std::make_shared<AppliedKeys>();
  std::uint64_t next_serial_ = 0;
};

}  // namespace

MIKE_EDITOR_PLUGIN(AlphaEditEditor, "alphaedit", "1.1.0",
                   "AlphaEdit: MEMIT's update projected onto the null space of preserved keys (protects earlier edits)",
                   kMikePluginDefaultConfig)
