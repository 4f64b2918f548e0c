// ft: constrained fine-tuning on the edit (Zhu et al. 2020, "Modifying
// Memories in Transformer Models", the FT-L baseline of EasyEdit/MIKE).
// Minimises the NLL of the target tokens given image + prompt (prompt masked,
// Model::loss) with Adam over the chosen parameters only: the MLP output
// projections of the LM blocks in `layers` (found through the model's edit
// sites) and any parameters named in `params` (e.g. the projector); with
// norm_constraint > 0 each weight is clamped to stay within ±ε of its value
// before the edit (Zhu et al. eq. 3, the L∞ constraint).
#include <torch/torch.h>

#include <functional>

#include "mike/edit_training.h"
#include "mike/editor.h"
#include "mike/error.h"
#include "mike/plugin.h"
#include "mike_plugin_default_config.h"

namespace {

class FineTuneEditor : public mike::Editor {
 public:
  explicit FineTuneEditor(const mike::Config& config)
      : layers_(config.get<std::vector<int>>("layers")),
        extra_params_(config.get<std::vector<std::string>>("params")),
        norm_constraint_(config.get<double>("norm_constraint")) {
    training_.steps = config.get<int>("steps");
    training_.lr = config.get<double>("lr");
    training_.weight_decay = config.get<double>("weight_decay");
    training_.early_stop_loss = config.get<double>("early_stop_loss");
    if (layers_.empty() && extra_params_.empty())
      throw mike::ConfigError("editor ft: `layers` and `params` are both empty; name at least one LM layer "
                              "(e.g. layers: [1]) or parameter to tune");
    if (training_.steps < 1)
      throw mike::ConfigError("editor ft: `steps` must be >= 1, got " + std::to_string(training_.steps));
    if (training_.lr <= 0) throw mike::ConfigError("editor ft: `lr` must be > 0, got " + std::to_string(training_.lr));
  }

  bool supports_batch() const override { return true; }

  std::unique_ptr<mike::EditedModel> edit(mike::Model& model, const std::vector<mike::EditRequest>& requests) override {
    if (requests.empty()) throw mike::Error("editor ft: edit() called with no requests");
    std::vector<std::string> params;
    for (int layer : layers_) params.push_back(mike::edit_site(model, layer, "editor ft: layers").weight);
    params.insert(params.end(), extra_params_.begin(), extra_params_.end());
    auto before = model.snapshot(params);  // also checks that every name exists
    std::vector<torch::Tensor> tuned;
    for (const std::string& name : params) tuned.push_back(model.parameter(name));
    // Zhu et al. eq. 3: after each step, clamp every weight to ±ε of its value before the edit.
    auto clamp = [&] {
      for (std::size_t i = 0; i < tuned.size(); ++i) {
        const torch::Tensor& original = before.at(params[i]);
        tuned[i].copy_(torch::max(torch::min(tuned[i], original + norm_constraint_), original - norm_constraint_));
      }
    };
    const mike::EditTrainingResult trained =
        mike::train_on_edit(model, mike::edit_training_batch(requests), tuned, training_,
                            norm_constraint_ > 0 ? std::function<void()>(clamp) : std::function<void()>());
    double delta_norm = 0.0;
    {
      torch::NoGradGuard no_grad;
      for (std::size_t i = 0; i < tuned.size(); ++i)
        delta_norm += (tuned[i] - before.at(params[i])).pow(2).sum().item<double>();
    }
    return std::make_unique<mike::InPlaceEdit>(
        model, std::move(before),
        std::map<std::string, double>{{"loss_first", trained.loss_first},
                                      {"loss_last", trained.loss_last},
                                      {"steps", static_cast<double>(trained.steps)},
                                      {"delta_norm", std::sqrt(delta_norm)}});
  }

 private:
  std::vector<int> layers_;                // LM blocks whose edit-site weight trains
  std::vector<std::string> extra_params_;  // further parameters by name
  double norm_constraint_;
  mike::EditTrainingOptions training_;
};

}  // namespace

MIKE_EDITOR_PLUGIN(FineTuneEditor, "ft", "1.0.0",
                   "Constrained fine-tuning of chosen parameters on the edit (FT-LLM / FT-Visual)",
                   kMikePluginDefaultConfig)
