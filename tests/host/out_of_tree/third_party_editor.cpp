// An editor written against the installed SDK only: adds `shift` to every
// parameter. Proves find_package(mike) + mike_add_plugin work out of tree.
#include <torch/torch.h>

#include "mike/editor.h"
#include "mike/plugin.h"
#include "mike_plugin_default_config.h"

namespace {
class ThirdPartyEditor : public mike::Editor {
 public:
  explicit ThirdPartyEditor(const mike::Config& config) : shift_(config.get<double>("shift")) {}
  std::unique_ptr<mike::EditedModel> edit(mike::Model& model, const std::vector<mike::EditRequest>&) override {
    auto before = model.snapshot();
    for (const auto& name : model.parameter_names()) model.set_parameter(name, model.parameter(name) + shift_);
    return std::make_unique<mike::InPlaceEdit>(model, std::move(before));
  }

 private:
  double shift_;
};
}  // namespace

MIKE_EDITOR_PLUGIN(ThirdPartyEditor, "third_party", "2.0.0", "Out-of-tree SDK test editor", kMikePluginDefaultConfig)
