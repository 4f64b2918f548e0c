// Fixture editor "scale": multiplies one named parameter by `factor`.
#include <torch/torch.h>

#include "mike/editor.h"
#include "mike/plugin.h"

namespace {

class ScaleEditor : public mike::Editor {
 public:
  explicit ScaleEditor(const mike::Config& config)
      : parameter_(config.get<std::string>("parameter")), factor_(config.get<double>("factor")) {}
  std::unique_ptr<mike::EditedModel> edit(mike::Model& model, const std::vector<mike::EditRequest>&) override {
    auto before = model.snapshot({parameter_});
    model.set_parameter(parameter_, model.parameter(parameter_) * factor_);
    return std::make_unique<mike::InPlaceEdit>(model, std::move(before),
                                               std::map<std::string, double>{{"factor", factor_}});
  }

 private:
  std::string parameter_;
  double factor_;
};

}  // namespace

MIKE_EDITOR_PLUGIN(ScaleEditor, "scale", "1.2.0", "Scales a named parameter (host test fixture)",
                   "parameter: bigram.weight\nfactor: 2.0\n")
