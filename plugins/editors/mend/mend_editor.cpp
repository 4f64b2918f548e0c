// mend: MEND (Mitchell et al., ICLR 2022, "Fast Model Editing at Scale") as
// a trained editor. The edited layers are the MLP output projections of the
// LM blocks in `layers` (the model's edit sites). An edit takes one forward
// and backward pass on the edit's NLL (target + EOS, as every gradient
// editor here trains): at each site, the rows of the projection's input u and
// of the loss gradient delta at its output (one row per token position; rows
// where either is zero, i.e. positions after the target or padding, are left
// out as in the reference's nz_mask), which the gradient network
// (gradient_network.h) maps to (u~, delta~); the weight becomes
//   W - eta_l * delta~^T u~          (sec. 3.1, eq. 3: rank <= positions)
// with eta_l the layer's learned step (sec. 3.2). No optimisation runs at
// edit time: one backward pass and a few small matrix products.
//
// fit() trains the network and the steps on the train split (sec. 3.3,
// Algorithm 1): per step one training edit; its post-edit model (the update
// applied through the sites' taps, differentiably, without touching the
// weights) is scored on the edit and its in-scope inputs (L_e, NLL of target
// + EOS) and on its out-of-scope inputs (L_loc, KL(p_pre || p_post) at their
// answer positions), and Adam minimises  c_edit * L_e + c_loc * L_loc
// (eq. 4-5; the reference's defaults c_edit = 0.1, c_loc = 1). Each training
// edit's (u, delta) and pre-edit log-probabilities depend only on the
// unedited model, so they are computed once, not per step. Training is
// deterministic for a given `fit_seed` (initialisation and edit order).
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "gradient_network.h"
#include "mike/edit_training.h"
#include "mike/editor.h"
#include "mike/error.h"
#include "mike/plugin.h"
#include "mike_plugin_default_config.h"
#include "fit_support.h"
#include "fitted_state.h"
#include "site_gradients.h"

namespace {

using mike::EditSite;

using mike::site_gradients::PreparedEdit;
using mike::site_gradients::SiteFactors;

using mike::site_gradients::capture_site_gradients;
using mike::site_gradients::post_edit_losses;
using mike::site_gradients::prepare_training_edits;

class MendEditor : public mike::Editor {
 public:
  explicit MendEditor(const mike::Config& config)
      : layers_(config.get<std::vector<int>>("layers")),
        rank_(config.get<int>("rank")),
        hidden_(config.get<int>("hidden_layers")),
        initial_edit_lr_(config.get<double>("edit_lr")),
        fit_steps_(config.get<int>("fit_steps")),
        fit_lr_(config.get<double>("fit_lr")),
        fit_lr_lr_(config.get<double>("fit_lr_lr")),
        edit_weight_(config.get<double>("edit_weight")),
        locality_weight_(config.get<double>("locality_weight")),
        fit_seed_(config.get<std::int64_t>("fit_seed")) {
    auto refuse = [](const std::string& what) { throw mike::ConfigError("editor mend: " + what); };
    if (layers_.empty()) refuse("`layers` is empty; name the LM blocks to edit, e.g. layers: [0, 1]");
    if (std::set<int>(layers_.begin(), layers_.end()).size() != layers_.size())
      refuse("`layers` names a block twice; list each block once");
    if (rank_ < 1 || rank_ > 65536) refuse("`rank` must be in 1..65536, got " + std::to_string(rank_));
    if (hidden_ < 0 || hidden_ > 16) refuse("`hidden_layers` must be in 0..16, got " + std::to_string(hidden_));
    if (!(initial_edit_lr_ > 0) || !std::isfinite(initial_edit_lr_)) refuse("`edit_lr` must be > 0");
    if (fit_steps_ < 1) refuse("`fit_steps` must be >= 1, got " + std::to_string(fit_steps_));
    if (!(fit_lr_ > 0) || !(fit_lr_lr_ >= 0)) refuse("`fit_lr` must be > 0 and `fit_lr_lr` >= 0");
    if (!(edit_weight_ > 0) || !(locality_weight_ >= 0))
      refuse("`edit_weight` must be > 0 and `locality_weight` >= 0");
  }

  mike::FitUse fit_use() const override { return mike::FitUse::required; }
  bool supports_batch() const override { return true; }

  void fit(mike::Model& model, const std::vector<mike::TrainingEdit>& train, mike::FitProgress& progress) override {
    if (train.empty()) throw mike::Error("editor mend: fit() got no training edits; the train split is empty");
    const std::vector<EditSite> sites = edited_sites(model);
    at::Generator generator = at::detail::createCPUGenerator(static_cast<std::uint64_t>(fit_seed_));
    build(sites, generator, model.device());
    const std::int64_t total = static_cast<std::int64_t>(train.size()) + fit_steps_;

    // What does not change while the network trains: each training edit's
    // factors on the unedited model and its out-of-scope log-probabilities.
    const std::vector<PreparedEdit> prepared = prepare_training_edits(model, sites, train, progress, total);
    for (std::size_t g = 0; g < networks_.size(); ++g) {
      std::vector<torch::Tensor> us, deltas;
      for (const PreparedEdit& edit : prepared)
        for (std::size_t l = 0; l < sites.size(); ++l)
          if (group_[l] == g) {
            us.push_back(edit.factors[l].u);
            deltas.push_back(edit.factors[l].delta);
          }
      networks_[g].set_normalisation(torch::cat(us), torch::cat(deltas));
    }

    std::vector<torch::Tensor> net_parameters;
    for (const auto& net : networks_)
      for (const torch::Tensor& t : net.parameters()) net_parameters.push_back(t);
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(net_parameters, std::make_unique<torch::optim::AdamOptions>(fit_lr_));
    groups.emplace_back(std::vector<torch::Tensor>{edit_lrs_}, std::make_unique<torch::optim::AdamOptions>(fit_lr_lr_));
    torch::optim::Adam adam(std::move(groups), torch::optim::AdamOptions(fit_lr_));

    mike::site_gradients::EditOrder order(train.size(), static_cast<std::uint64_t>(fit_seed_));
    mike::site_gradients::TrainingStatus status(progress, static_cast<std::int64_t>(train.size()), total);
    for (int step = 0; step < fit_steps_; ++step) {
      const std::size_t i = order.next();
      std::vector<torch::Tensor> u_tilde, delta_tilde;
      for (std::size_t l = 0; l < sites.size(); ++l) {
        const SiteFactors& f = prepared[i].factors[l];
        auto [u, delta] = networks_[group_[l]].transform(f.u, f.delta, mode_[l]);
        u_tilde.push_back(u);
        delta_tilde.push_back(delta);
      }
      // The post-edit model: site l's output gains -eta_l (x u~^T) delta~,
      // the forward of W - eta_l delta~^T u~, differentiable in the network
      // and the steps while W itself stays untouched.
      const auto losses = post_edit_losses(model, sites, train[i], prepared[i], [&](std::size_t l, const torch::Tensor& x) {
        return -edit_lrs_[static_cast<std::int64_t>(l)] * torch::matmul(torch::matmul(x, u_tilde[l].t()), delta_tilde[l]);
      });
      const torch::Tensor& edit_loss = losses.edit;
      const torch::Tensor& locality_loss = losses.locality;
      torch::Tensor objective = edit_weight_ * edit_loss;
      if (locality_loss.defined()) objective = objective + locality_weight_ * locality_loss;
      adam.zero_grad();
      objective.backward();
      adam.step();
      status.step(step, edit_loss.item<double>(), locality_loss.defined() ? locality_loss.item<double>() : 0.0);
    }
    fitted_ = true;
  }

  mike::FittedState fitted_state() const override {
    if (!fitted_) return {};
    mike::FittedState state;
    state["layers"] = mike::site_gradients::blocks_tensor(layers_);
    std::vector<std::int64_t> dims;
    for (std::size_t g = 0; g < networks_.size(); ++g) {
      dims.push_back(networks_[g].in_dim());
      dims.push_back(networks_[g].out_dim());
      dims.push_back(layer_modes_[g]);
    }
    state["dims"] = torch::tensor(dims, torch::kInt64).reshape({-1, 3});
    state["edit_lr"] = edit_lrs_.detach().to(torch::kCPU);
    for (std::size_t g = 0; g < networks_.size(); ++g) {
      mike::FittedState part;
      networks_[g].write("net" + std::to_string(g) + ".", part);
      for (auto& [name, t] : part) state[name] = t.to(torch::kCPU);
    }
    return state;
  }

  void load_fitted(const mike::FittedState& state) override {
    mike::site_gradients::check_fitted_blocks(state, layers_, "mend");
    auto tensor = [&](const std::string& name) -> const torch::Tensor& {
      return mike::site_gradients::fitted_entry(state, name, "mend");
    };
    const torch::Tensor& dims = tensor("dims");
    if (dims.scalar_type() != torch::kInt64 || dims.dim() != 2 || dims.size(1) != 3 || dims.size(0) < 1 ||
        dims.size(0) > static_cast<std::int64_t>(layers_.size()))
      throw mike::Error("editor mend: fitted tensor 'dims' is not [networks, 3] int64 (input width, output width, "
                        "layers)");
    const torch::Tensor& lrs = tensor("edit_lr");
    if (lrs.scalar_type() != torch::kFloat32 || lrs.sizes() != torch::IntArrayRef{static_cast<std::int64_t>(layers_.size())} ||
        !torch::isfinite(lrs).all().item<bool>())
      throw mike::Error("editor mend: fitted tensor 'edit_lr' is not " + std::to_string(layers_.size()) +
                        " finite float32 steps");
    std::vector<std::pair<std::int64_t, std::int64_t>> shapes;
    std::vector<std::int64_t> modes;
    std::int64_t layer_count = 0;
    for (std::int64_t g = 0; g < dims.size(0); ++g) {
      const std::int64_t in = dims[g][0].item<std::int64_t>(), out = dims[g][1].item<std::int64_t>();
      const std::int64_t layers = dims[g][2].item<std::int64_t>();
      if (in < 1 || out < 1 || in > (1 << 20) || out > (1 << 20) || layers < 1)
        throw mike::Error("editor mend: fitted tensor 'dims' holds an impossible width or layer count");
      shapes.emplace_back(in, out);
      modes.push_back(layers);
      layer_count += layers;
    }
    if (layer_count != static_cast<std::int64_t>(layers_.size()))
      throw mike::Error("editor mend: fitted tensor 'dims' counts other layers than `layers`");
    std::vector<mend::GradientNetwork> networks;
    for (std::size_t g = 0; g < shapes.size(); ++g)
      networks.push_back(mend::GradientNetwork::read("net" + std::to_string(g) + ".", state, shapes[g].first,
                                                     shapes[g].second, modes[g], rank_, hidden_));
    networks_ = std::move(networks);
    shapes_ = shapes;
    layer_modes_ = modes;
    edit_lrs_ = lrs.clone().requires_grad_(true);
    fitted_ = true;
  }

  std::unique_ptr<mike::EditedModel> edit(mike::Model& model, const std::vector<mike::EditRequest>& requests) override {
    if (requests.empty()) throw mike::Error("editor mend: edit() called with no requests");
    if (!fitted_)
      throw mike::Error("editor mend: edit() before fit(): MEND edits with a gradient network trained on the train "
                        "split; `mike run` fits it (or loads the cached fit) first, and code that uses the plugin "
                        "directly calls fit() or load_fitted()");
    const std::vector<EditSite> sites = edited_sites(model);
    place(sites, model.device());
    double loss_before = 0;
    const std::vector<SiteFactors> factors =
        capture_site_gradients(model, sites, mike::edit_training_batch(requests), loss_before);
    std::vector<std::string> weights;
    for (const EditSite& site : sites) weights.push_back(site.weight);
    mike::ParameterSnapshot before = model.snapshot(weights);
    std::vector<torch::Tensor> updates(sites.size());
    std::int64_t positions = 0;
    {
      torch::NoGradGuard no_grad;
      for (std::size_t l = 0; l < sites.size(); ++l) {
        positions = std::max(positions, factors[l].u.size(0));
        if (factors[l].u.size(0) == 0) continue;  // no gradient at this site: nothing to change
        auto [u, delta] = networks_[group_[l]].transform(factors[l].u, factors[l].delta, mode_[l]);
        updates[l] = -edit_lrs_[static_cast<std::int64_t>(l)] * SiteFactors{u, delta}.gradient();
      }
    }
    const double delta_norm = mike::site_gradients::add_to_weights(model, sites, updates);
    return std::make_unique<mike::InPlaceEdit>(model, std::move(before),
                                               std::map<std::string, double>{{"loss_first", loss_before},
                                                                             {"delta_norm", delta_norm},
                                                                             {"positions", static_cast<double>(positions)}});
  }

 private:
  std::vector<EditSite> edited_sites(const mike::Model& model) const {
    return mike::site_gradients::sites_of_blocks(model, layers_, "mend");
  }

  // Layers of the same shape share a network; mode_ is the layer's index in it.
  void assign_groups(const std::vector<EditSite>& sites) {
    group_.clear();
    mode_.clear();
    std::vector<std::int64_t> modes(shapes_.size(), 0);
    for (const EditSite& site : sites) {
      const auto shape = std::make_pair(site.input_dim, site.output_dim);
      const auto it = std::find(shapes_.begin(), shapes_.end(), shape);
      if (it == shapes_.end()) {
        shapes_.push_back(shape);
        modes.push_back(0);
        group_.push_back(shapes_.size() - 1);
      } else {
        group_.push_back(static_cast<std::size_t>(it - shapes_.begin()));
      }
      mode_.push_back(modes[group_.back()]++);
    }
    layer_modes_ = modes;
  }

  void build(const std::vector<EditSite>& sites, at::Generator& generator, torch::Device device) {
    shapes_.clear();
    assign_groups(sites);
    networks_.clear();
    for (std::size_t g = 0; g < shapes_.size(); ++g)
      networks_.emplace_back(shapes_[g].first, shapes_[g].second, layer_modes_[g], rank_, hidden_, generator, device);
    edit_lrs_ = torch::full({static_cast<std::int64_t>(sites.size())}, initial_edit_lr_,
                            torch::TensorOptions().dtype(torch::kFloat32).device(device))
                    .requires_grad_(true);
  }

  // A loaded fit on this model: the sites must have the shapes it was trained
  // for, in the same grouping.
  void place(const std::vector<EditSite>& sites, torch::Device device) {
    const auto trained = shapes_;
    const auto trained_modes = layer_modes_;
    shapes_.clear();
    assign_groups(sites);
    if (shapes_ != trained || layer_modes_ != trained_modes)
      throw mike::Error("editor mend: the fit was made for edit sites of other widths than this model's blocks; "
                        "fit again on this model");
    for (std::size_t g = 0; g < networks_.size(); ++g) networks_[g].to(device);
    if (edit_lrs_.device() != device) edit_lrs_ = edit_lrs_.detach().to(device).requires_grad_(true);
  }

  std::vector<int> layers_;
  int rank_, hidden_;
  double initial_edit_lr_;
  int fit_steps_;
  double fit_lr_, fit_lr_lr_, edit_weight_, locality_weight_;
  std::int64_t fit_seed_;

  bool fitted_ = false;
  std::vector<std::pair<std::int64_t, std::int64_t>> shapes_;  // (in, out) per network
  std::vector<std::int64_t> layer_modes_;                      // layers per network
  std::vector<mend::GradientNetwork> networks_;
  std::vector<std::size_t> group_;   // per edited layer: its network
  std::vector<std::int64_t> mode_;   // per edited layer: its index in that network
  torch::Tensor edit_lrs_;           // eta per edited layer
};

}  // namespace

MIKE_EDITOR_PLUGIN(MendEditor, "mend", "1.0.0",
                   "MEND: a trained gradient network turns the edit's gradient into a rank-limited weight update",
                   kMikePluginDefaultConfig)
