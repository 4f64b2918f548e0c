// Fixture editor "leaky": an edit whose restore_original() does not give the
// model back, for the runner's restore checks. `leak: parameter` scales
// bigram.weight but snapshots nothing (so restoring writes nothing back);
// `leak: tap` wraps the model and leaves a tap on it that shifts the logits
// (outputs change, parameters do not, as an unmerged LoRA that forgot its hook).
#include <torch/torch.h>

#include "mike/editor.h"
#include "mike/error.h"
#include "mike/plugin.h"

namespace {

class TapLeftBehind : public mike::ForwardingModel {
 public:
  TapLeftBehind(mike::Model& inner, mike::TapHandle handle) : ForwardingModel(inner), handle_(std::move(handle)) {}
  // Forgets its tap: it stays on the model until this wrapper is destroyed.
  void restore_original() override {}

 private:
  mike::TapHandle handle_;
};

class LeakyEditor : public mike::Editor {
 public:
  explicit LeakyEditor(const mike::Config& config) : leak_(config.get<std::string>("leak")) {
    if (leak_ != "parameter" && leak_ != "tap")
      throw mike::ConfigError("leaky: leak must be parameter or tap, got '" + leak_ + "'");
  }
  std::unique_ptr<mike::EditedModel> edit(mike::Model& model, const std::vector<mike::EditRequest>&) override {
    if (leak_ == "parameter") {
      model.set_parameter("bigram.weight", model.parameter("bigram.weight") * 2.0);
      return std::make_unique<mike::InPlaceEdit>(model, mike::ParameterSnapshot{});
    }
    auto handle = model.add_tap("bigram.out", [](const std::string&, const torch::Tensor& x) { return x * 3.0 + 1.0; });
    return std::make_unique<TapLeftBehind>(model, std::move(handle));
  }

 private:
  std::string leak_;
};

}  // namespace

MIKE_EDITOR_PLUGIN(LeakyEditor, "leaky", "1.0.0", "An edit restore does not undo (host test fixture)",
                   "leak: parameter\n")
