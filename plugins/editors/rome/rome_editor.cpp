// rome: rank-one model editing (Meng et al. 2022, "Locating and Editing
// Factual Associations in GPT") of one LM MLP output projection, found
// through the model's edit sites. Keys, the value shift and the statistics
// are the locate-then-edit support library (plugins/editors/locate_then_edit).
#include <torch/torch.h>

#include "closed_forms.h"
#include "key_capture.h"
#include "locate_editor.h"
#include "mike/editor.h"
#include "mike/error.h"
#include "mike/plugin.h"
#include "mike_plugin_default_config.h"
#include "site_edit.h"

namespace {

using namespace mike::locate_edit;

class RomeEditor : public LocateThenEditEditor {
 public:
  explicit RomeEditor(const mike::Config& config)
      : LocateThenEditEditor(config, {/*single_layer=*/true, /*allows_answer_tokens=*/false, "ROME"}) {}

  std::unique_ptr<mike::EditedModel> edit(mike::Model& model, const std::vector<mike::EditRequest>& requests) override {
    if (requests.size() != 1)
      throw mike::Error("rome: edit() takes one request at a time (got " + std::to_string(requests.size()) +
                        "; ROME is a rank-one edit of one fact); use memit or alphaedit for batches, or the "
                        "single/sequential protocol");
    const std::vector<mike::EditSite> edit_sites = sites(model);
    return edit_in_place(model, edit_sites, [&] { return edit_one(model, edit_sites.front(), requests.front()); });
  }

 private:
  EditStats edit_one(mike::Model& model, const mike::EditSite& site, const mike::EditRequest& request) {
    const KeyPosition position = settings_.key_position;
    const torch::Tensor& c = second_moments_.of(model, site, corpus_source());
    // ROME eq. 3: k* = mean over context templates of the key at the key position.
    const torch::Tensor key = as_double(
        activations_at_key(model, site.input_tap, templated_requests(request, settings_.context_templates), position)
            .mean(0));
    // ROME eq. 4: v* = the projection's output on the plain prompt + the optimised shift.
    const ValueResult value = values(model, {request}).front();
    const torch::Tensor original =
        as_double(activations_at_key(model, site.output_tap, templated_requests(request, {"{}"}), position)[0]);
    const torch::Tensor target = original + as_double(value.shift[0]);
    torch::Tensor weight = model.parameter(site.weight);
    const torch::Tensor delta = rome_update(weight, c, key, target);
    {
      torch::NoGradGuard no_grad;
      weight.add_(delta.to(weight.device(), weight.dtype()));
    }
    const double key_error = ((as_double(weight).mv(key) - target).norm() / target.norm()).item<double>();
    return {{"loss_first", value.loss_first},
            {"loss_last", value.loss_last},
            {"value_steps", static_cast<double>(value.steps)},
            {"preserve_last", value.preserve_last},
            {"shift_norm", value.shift.norm().item<double>()},
            {"delta_norm", delta.norm().item<double>()},
            {"key_value_error", key_error}};
  }
};

}  // namespace

MIKE_EDITOR_PLUGIN(RomeEditor, "rome", "1.1.0",
                   "ROME: rank-one closed-form edit of one LM MLP output projection (key at the last prompt token)",
                   kMikePluginDefaultConfig)
