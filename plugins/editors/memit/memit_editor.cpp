// memit: mass-editing memory in a transformer (Meng et al. 2023, "Mass-Editing
// Memory in a Transformer"): a batch of edits written by least squares
// (eq. 14) into the MLP output projections of several LM layers, the residual
// spread bottom-up (Alg. 1). Shared machinery: plugins/editors/locate_then_edit.
#include <torch/torch.h>

#include "closed_forms.h"
#include "locate_editor.h"
#include "mike/editor.h"
#include "mike/error.h"
#include "mike/plugin.h"
#include "mike_plugin_default_config.h"
#include "site_edit.h"

namespace {

using namespace mike::locate_edit;

class MemitEditor : public LocateThenEditEditor {
 public:
  explicit MemitEditor(const mike::Config& config)
      : LocateThenEditEditor(config, {false, true, "MEMIT"}), lambda_(config.get<double>("lambda")) {
    if (lambda_ <= 0) throw mike::ConfigError(config_key_where(config, "lambda") + " must be > 0");
  }

  bool supports_batch() const override { return true; }

  std::unique_ptr<mike::EditedModel> edit(mike::Model& model, const std::vector<mike::EditRequest>& requests) override {
    if (requests.empty()) throw mike::Error("memit: edit() called with no requests");
    const std::vector<mike::EditSite> edit_sites = sites(model);
    return edit_in_place(model, edit_sites, [&] {
      std::map<int, torch::Tensor> keys;
      return spread_over_layers(model, edit_sites, requests, settings_, values(model, requests),
                                [&](const mike::EditSite& site, const torch::Tensor& k, const torch::Tensor& r) {
                                  return memit_update(k, r, second_moments_.of(model, site, corpus_source()), lambda_);
                                },
                                keys);
    });
  }

 private:
  double lambda_;
};

}  // namespace

MIKE_EDITOR_PLUGIN(MemitEditor, "memit", "1.1.0",
                   "MEMIT: batched least-squares edit of LM MLP output projections, residual spread over layers",
                   kMikePluginDefaultConfig)
