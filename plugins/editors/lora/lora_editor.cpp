// lora: low-rank adaptation (Hu et al. 2021, "LoRA: Low-Rank Adaptation of
// Large Language Models") as an editor. Each chosen LM block's MLP output
// projection W (the model's edit site) gets h = W x + (alpha/r) B A x (eq. 3),
// A [r, d_in] Gaussian, B [d_out, r] zero so training starts from the
// unedited model (§4.1). The adapter rides on the site's taps (the input tap
// feeds it, the output tap receives it), so
// restore_original() just removes the taps: the model is untouched. With
// `merge: true` the trained product is added into W instead (exact up to
// float rounding) and restore writes the original weights back.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "mike/edit_training.h"
#include "mike/editor.h"
#include "mike/error.h"
#include "mike/plugin.h"
#include "mike_plugin_default_config.h"

namespace {

struct Adapter {
  mike::EditSite site;
  torch::Tensor a, b;  // A [r, d_in], B [d_out, r]
  torch::Tensor input;  // the down_proj input of the current forward
};

// Adapters attached through taps; removing the taps removes them.
class AdaptedModel : public mike::ForwardingModel {
 public:
  AdaptedModel(mike::Model& inner, std::vector<Adapter> adapters, double scale, std::map<std::string, double> stats)
      : ForwardingModel(inner), adapters_(std::move(adapters)), scale_(scale), stats_(std::move(stats)) {
    for (Adapter& adapter : adapters_) attach(adapter);
  }
  void restore_original() override { handles_.clear(); }
  std::map<std::string, double> stats() const override { return stats_; }

  // Training and merging need the adapters; dropout applies while training.
  std::vector<Adapter>& adapters() { return adapters_; }
  void set_dropout(double p) { dropout_ = p; }

 private:
  void attach(Adapter& adapter) {
    handles_.push_back(inner_.add_tap(adapter.site.input_tap,
                                      [&adapter](const std::string&, const torch::Tensor& x) {
                                        adapter.input = x;
                                        return x;
                                      }));
    handles_.push_back(inner_.add_tap(adapter.site.output_tap,
                                      [this, &adapter](const std::string&, const torch::Tensor& y) {
                                        torch::Tensor x = adapter.input;
                                        if (dropout_ > 0) x = torch::dropout(x, dropout_, /*train=*/true);
                                        // LoRA eq. 3: h = W x + (alpha/r) B A x.
                                        return y + scale_ * torch::matmul(torch::matmul(x, adapter.a.t()), adapter.b.t());
                                      }));
  }

  std::vector<Adapter> adapters_;
  double scale_;
  double dropout_ = 0.0;
  std::map<std::string, double> stats_;
  std::vector<mike::TapHandle> handles_;
};

class LoraEditor : public mike::Editor {
 public:
  explicit LoraEditor(const mike::Config& config)
      : layers_(config.get<std::vector<int>>("layers")),
        rank_(config.get<int>("rank")),
        alpha_(config.get<double>("alpha")),
        dropout_(config.get<double>("dropout")),
        merge_(config.get<bool>("merge")),
        seed_(config.get<int>("seed")) {
    training_.lr = config.get<double>("lr");
    training_.steps = config.get<int>("steps");
    training_.early_stop_loss = config.get<double>("early_stop_loss");
    if (layers_.empty()) throw mike::ConfigError("editor lora: `layers` is empty; name at least one LM layer, e.g. [1]");
    if (rank_ < 1) throw mike::ConfigError("editor lora: `rank` must be >= 1, got " + std::to_string(rank_));
    if (training_.steps < 1)
      throw mike::ConfigError("editor lora: `steps` must be >= 1, got " + std::to_string(training_.steps));
    if (training_.lr <= 0) throw mike::ConfigError("editor lora: `lr` must be > 0");
    if (dropout_ < 0 || dropout_ >= 1) throw mike::ConfigError("editor lora: `dropout` must be in [0, 1)");
  }

  bool supports_batch() const override { return true; }

  std::unique_ptr<mike::EditedModel> edit(mike::Model& model, const std::vector<mike::EditRequest>& requests) override {
    if (requests.empty()) throw mike::Error("editor lora: edit() called with no requests");
    torch::manual_seed(static_cast<std::uint64_t>(seed_));
    std::vector<Adapter> adapters;
    std::vector<torch::Tensor> trained;
    for (int layer : layers_) {
      Adapter adapter;
      adapter.site = mike::edit_site(model, layer, "editor lora: layers");
      const torch::Tensor w = model.parameter(adapter.site.weight);
      // §4.1: A Gaussian (scaled like a fan-in init), B zero.
      adapter.a = (torch::randn({rank_, w.size(1)}, w.options()) / std::sqrt(static_cast<double>(w.size(1))))
                      .set_requires_grad(true);
      adapter.b = torch::zeros({w.size(0), rank_}, w.options()).set_requires_grad(true);
      trained.push_back(adapter.a);
      trained.push_back(adapter.b);
      adapters.push_back(std::move(adapter));
    }
    const double scale = alpha_ / rank_;
    auto adapted = std::make_unique<AdaptedModel>(model, std::move(adapters), scale, std::map<std::string, double>{});

    adapted->set_dropout(dropout_);
    // Only the adapters train (train_on_edit freezes the model); the batch
    // ends with EOS so greedy decoding stops after the new answer.
    const mike::EditTrainingResult result =
        mike::train_on_edit(*adapted, mike::edit_training_batch(requests), trained, training_);
    adapted->set_dropout(0.0);
    for (Adapter& adapter : adapted->adapters()) {
      adapter.a = adapter.a.detach();
      adapter.b = adapter.b.detach();
      adapter.input = torch::Tensor();
    }
    std::map<std::string, double> stats{{"loss_first", result.loss_first},
                                        {"loss_last", result.loss_last},
                                        {"steps", static_cast<double>(result.steps)}};
    adapted->restore_original();  // detach the training taps before re-attaching or merging
    if (!merge_) return std::make_unique<AdaptedModel>(model, std::move(adapted->adapters()), scale, stats);
    std::vector<std::string> names;
    for (const Adapter& adapter : adapted->adapters()) names.push_back(adapter.site.weight);
    mike::ParameterSnapshot before = model.snapshot(names);
    {
      torch::NoGradGuard no_grad;
      for (const Adapter& adapter : adapted->adapters())
        model.parameter(adapter.site.weight).add_(scale * adapter.b.mm(adapter.a));
    }
    return std::make_unique<mike::InPlaceEdit>(model, std::move(before), stats);
  }

 private:
  std::vector<int> layers_;
  int rank_;
  double alpha_, dropout_;
  mike::EditTrainingOptions training_;
  bool merge_;
  int seed_;
};

}  // namespace

MIKE_EDITOR_PLUGIN(LoraEditor, "lora", "1.0.0",
                   "LoRA: low-rank adapters on LM MLP down-projections, trained on the edit (removable or merged)",
                   kMikePluginDefaultConfig)
