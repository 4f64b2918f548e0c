// ft: constrained fine-tuning on the edit (Zhu et al. 2020, "Modifying
// Memories in Transformer Models", the FT-L baseline of EasyEdit/MIKE).
// Minimises the NLL of the target tokens given image + prompt (prompt masked,
// Model::loss) with Adam over the chosen parameters only; with
// norm_constraint > 0 each weight is clamped to stay within ±ε of its value
// before the edit (Zhu et al. eq. 3, the L∞ constraint).
#include <torch/torch.h>

#include <chrono>

#include "mike/editor.h"
#include "mike/error.h"
#include "mike/plugin.h"
#include "mike_plugin_default_config.h"

namespace {

class FineTuneEditor : public mike::Editor {
 public:
  explicit FineTuneEditor(const mike::Config& config)
      : params_(config.get<std::vector<std::string>>("params")),
        steps_(config.get<int>("steps")),
        lr_(config.get<double>("lr")),
        weight_decay_(config.get<double>("weight_decay")),
        norm_constraint_(config.get<double>("norm_constraint")),
        early_stop_loss_(config.get<double>("early_stop_loss")) {
    if (params_.empty()) throw mike::ConfigError("editor ft: `params` is empty; name at least one parameter to tune");
    if (steps_ < 1) throw mike::ConfigError("editor ft: `steps` must be >= 1, got " + std::to_string(steps_));
    if (lr_ <= 0) throw mike::ConfigError("editor ft: `lr` must be > 0, got " + std::to_string(lr_));
  }

  bool supports_batch() const override { return true; }

  std::unique_ptr<mike::EditedModel> edit(mike::Model& model, const std::vector<mike::EditRequest>& requests) override {
    if (requests.empty()) throw mike::Error("editor ft: edit() called with no requests");
    auto before = model.snapshot(params_);  // also checks that every name exists
    std::vector<torch::Tensor> tuned;
    for (const std::string& name : params_) tuned.push_back(model.parameter(name));

    // Gradients only for the tuned parameters: everything else is frozen for
    // the duration of the edit (and its previous flag restored afterwards).
    std::vector<std::pair<torch::Tensor, bool>> flags;
    for (const std::string& name : model.parameter_names()) {
      torch::Tensor p = model.parameter(name);
      flags.emplace_back(p, p.requires_grad());
      p.set_requires_grad(false);
    }
    for (torch::Tensor& p : tuned) p.set_requires_grad(true);

    std::vector<mike::ScoreRequest> batch;
    for (const auto& r : requests) {
      mike::ScoreRequest request{r.input, r.target, 1};
      // Also learn to stop after the target: without it a greedy decode of a
      // perfectly teacher-forced edit can run on past the name (exact match fails).
      request.end_with_eos = true;
      batch.push_back(std::move(request));
    }
    torch::optim::Adam optimizer(tuned, torch::optim::AdamOptions(lr_).weight_decay(weight_decay_));
    double first_loss = 0.0, last_loss = 0.0;
    int steps_taken = 0;
    for (int step = 0; step < steps_; ++step) {
      optimizer.zero_grad();
      torch::Tensor loss = model.loss(batch);
      last_loss = loss.item<double>();
      if (step == 0) first_loss = last_loss;
      if (last_loss < early_stop_loss_) break;
      loss.backward();
      optimizer.step();
      ++steps_taken;
      if (norm_constraint_ > 0) {
        torch::NoGradGuard no_grad;
        for (std::size_t i = 0; i < tuned.size(); ++i) {
          const torch::Tensor& original = before.at(params_[i]);
          tuned[i].copy_(torch::max(torch::min(tuned[i], original + norm_constraint_), original - norm_constraint_));
        }
      }
    }
    for (auto& [p, requires_grad] : flags) {
      p.set_requires_grad(requires_grad);
      p.mutable_grad() = torch::Tensor();
    }
    double delta_norm = 0.0;
    {
      torch::NoGradGuard no_grad;
      for (std::size_t i = 0; i < tuned.size(); ++i)
        delta_norm += (tuned[i] - before.at(params_[i])).pow(2).sum().item<double>();
    }
    return std::make_unique<mike::InPlaceEdit>(
        model, std::move(before),
        std::map<std::string, double>{{"loss_first", first_loss},
                                      {"loss_last", last_loss},
                                      {"steps", static_cast<double>(steps_taken)},
                                      {"delta_norm", std::sqrt(delta_norm)}});
  }

 private:
  std::vector<std::string> params_;
  int steps_;
  double lr_, weight_decay_, norm_constraint_, early_stop_loss_;
};

}  // namespace

MIKE_EDITOR_PLUGIN(FineTuneEditor, "ft", "1.0.0",
                   "Constrained fine-tuning of chosen parameters on the edit (FT-LLM / FT-Visual)",
                   kMikePluginDefaultConfig)
