// ke: KnowledgeEditor (De Cao, Aziz and Titov, EMNLP 2021, "Editing Factual
// Knowledge in Language Models") as a trained editor. The edited weights are
// the MLP output projections of the LM blocks in `layers` (the model's edit
// sites). An edit takes one forward and backward pass on the edit's NLL
// (target + EOS): the gradient at each site, grad_W L = delta^T u
// (site_gradients.h), and the rows u of the lowest edited site, which the
// hypernetwork (hyper_network.h) reads as the edit; its update dW (eq. 4) is
// added to each weight. No optimisation runs at edit time.
//
// fit() trains the hypernetwork on the train split with the paper's
// constrained objective (sec. 3.1, eq. 2-3): minimise the post-edit NLL of
// the edit and its in-scope inputs subject to KL(p_pre || p_post) <= m on
// out-of-scope inputs, relaxed with a Lagrange multiplier:
//   L = L_edit + lambda * (KL - m),   lambda <- max(0, lambda + lr_lambda (KL - m))
// (gradient descent on the network, ascent on lambda, as the reference does
// with its alpha parameters). The post-edit model during fit() is the update
// applied through the sites' taps, differentiably; the weights never change
// there. Deterministic for a given `fit_seed`.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "fit_support.h"
#include "fitted_state.h"
#include "hyper_network.h"
#include "mike/edit_training.h"
#include "mike/editor.h"
#include "mike/error.h"
#include "mike/plugin.h"
#include "mike_plugin_default_config.h"
#include "site_gradients.h"

namespace {

using mike::EditSite;
using mike::site_gradients::capture_site_gradients;
using mike::site_gradients::PreparedEdit;
using mike::site_gradients::SiteFactors;

class KnowledgeEditor : public mike::Editor {
 public:
  explicit KnowledgeEditor(const mike::Config& config)
      : layers_(config.get<std::vector<int>>("layers")),
        max_scale_(config.get<double>("max_scale")),
        fit_steps_(config.get<int>("fit_steps")),
        fit_lr_(config.get<double>("fit_lr")),
        kl_margin_(config.get<double>("kl_margin")),
        lagrange_lr_(config.get<double>("lagrange_lr")),
        lagrange_init_(config.get<double>("lagrange_init")),
        fit_seed_(config.get<std::int64_t>("fit_seed")) {
    sizes_.lstm_hidden = config.get<int>("lstm_hidden");
    sizes_.condition_dim = config.get<int>("condition_dim");
    sizes_.hidden_dim = config.get<int>("hidden_dim");
    auto refuse = [](const std::string& what) { throw mike::ConfigError("editor ke: " + what); };
    if (layers_.empty()) refuse("`layers` is empty; name the LM blocks to edit, e.g. layers: [0, 1]");
    if (std::set<int>(layers_.begin(), layers_.end()).size() != layers_.size())
      refuse("`layers` names a block twice; list each block once");
    for (const auto& [key, value] : {std::pair<const char*, std::int64_t>{"lstm_hidden", sizes_.lstm_hidden},
                                     {"condition_dim", sizes_.condition_dim},
                                     {"hidden_dim", sizes_.hidden_dim}})
      if (value < 1 || value > 65536) refuse(std::string("`") + key + "` must be in 1..65536, got " + std::to_string(value));
    if (!(max_scale_ > 0) || !std::isfinite(max_scale_)) refuse("`max_scale` must be > 0");
    if (fit_steps_ < 1) refuse("`fit_steps` must be >= 1, got " + std::to_string(fit_steps_));
    if (!(fit_lr_ > 0)) refuse("`fit_lr` must be > 0");
    if (!(kl_margin_ >= 0) || !(lagrange_lr_ >= 0) || !(lagrange_init_ >= 0))
      refuse("`kl_margin`, `lagrange_lr` and `lagrange_init` must be >= 0");
  }

  mike::FitUse fit_use() const override { return mike::FitUse::required; }
  bool supports_batch() const override { return true; }

  void fit(mike::Model& model, const std::vector<mike::TrainingEdit>& train, mike::FitProgress& progress) override {
    if (train.empty()) throw mike::Error("editor ke: fit() got no training edits; the train split is empty");
    const std::vector<EditSite> sites = edited_sites(model);
    at::Generator generator = at::detail::createCPUGenerator(static_cast<std::uint64_t>(fit_seed_));
    set_sizes(sites);
    network_ = ke::HyperNetwork(sizes_, max_scale_, generator, model.device());
    const std::int64_t total = static_cast<std::int64_t>(train.size()) + fit_steps_;
    const std::vector<PreparedEdit> prepared =
        mike::site_gradients::prepare_training_edits(model, sites, train, progress, total);
    std::vector<torch::Tensor> rows;
    for (const PreparedEdit& p : prepared) rows.push_back(p.factors[reader_].u);
    network_.set_normalisation(torch::cat(rows));

    torch::optim::Adam adam(network_.parameters(), torch::optim::AdamOptions(fit_lr_));
    mike::site_gradients::EditOrder order(train.size(), static_cast<std::uint64_t>(fit_seed_));
    mike::site_gradients::TrainingStatus status(progress, static_cast<std::int64_t>(train.size()), total);
    double lambda = lagrange_init_;
    for (int step = 0; step < fit_steps_; ++step) {
      const std::size_t i = order.next();
      const std::vector<torch::Tensor> updates = predict(prepared[i].factors);
      // The post-edit model: site l's output gains x dW_l^T.
      const auto losses = mike::site_gradients::post_edit_losses(
          model, sites, train[i], prepared[i],
          [&](std::size_t l, const torch::Tensor& x) { return torch::matmul(x, updates[l].t()); });
      torch::Tensor objective = losses.edit;
      double kl = 0;
      if (losses.locality.defined()) {
        objective = objective + lambda * (losses.locality - kl_margin_);
        kl = losses.locality.item<double>();
      }
      adam.zero_grad();
      objective.backward();
      adam.step();
      lambda = std::max(0.0, lambda + lagrange_lr_ * (kl - kl_margin_));
      char multiplier[32];
      std::snprintf(multiplier, sizeof multiplier, "  lambda %.3g", lambda);
      status.step(step, losses.edit.item<double>(), kl, multiplier);
    }
    fitted_ = true;
  }

  mike::FittedState fitted_state() const override {
    if (!fitted_) return {};
    mike::FittedState state;
    state["layers"] = mike::site_gradients::blocks_tensor(layers_);
    std::vector<std::int64_t> dims = {sizes_.sequence_dim, static_cast<std::int64_t>(reader_)};
    for (const auto& [in, out] : sizes_.sites) dims.insert(dims.end(), {in, out});
    state["dims"] = torch::tensor(dims, torch::kInt64);
    mike::FittedState part;
    network_.write(part);
    for (auto& [name, t] : part) state[name] = t.to(torch::kCPU);
    return state;
  }

  void load_fitted(const mike::FittedState& state) override {
    mike::site_gradients::check_fitted_blocks(state, layers_, "ke");
    auto tensor = [&](const std::string& name) -> const torch::Tensor& {
      return mike::site_gradients::fitted_entry(state, name, "ke");
    };
    const torch::Tensor& dims = tensor("dims");
    const std::int64_t expected = 2 + 2 * static_cast<std::int64_t>(layers_.size());
    if (dims.scalar_type() != torch::kInt64 || dims.dim() != 1 || dims.numel() != expected)
      throw mike::Error("editor ke: fitted tensor 'dims' is not " + std::to_string(expected) + " int64 widths");
    const std::int64_t* d = dims.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < expected; ++i)
      if ((i == 1 ? d[i] < 0 || d[i] >= static_cast<std::int64_t>(layers_.size()) : d[i] < 1 || d[i] > (1 << 20)))
        throw mike::Error("editor ke: fitted tensor 'dims' holds an impossible width or site index");
    ke::Sizes sizes = sizes_;
    sizes.sequence_dim = d[0];
    sizes.sites.clear();
    for (std::size_t l = 0; l < layers_.size(); ++l)
      sizes.sites.emplace_back(d[2 + 2 * static_cast<std::int64_t>(l)], d[3 + 2 * static_cast<std::int64_t>(l)]);
    network_ = ke::HyperNetwork::read(state, sizes, max_scale_);
    sizes_ = sizes;
    reader_ = static_cast<std::size_t>(d[1]);
    fitted_ = true;
  }

  std::unique_ptr<mike::EditedModel> edit(mike::Model& model, const std::vector<mike::EditRequest>& requests) override {
    if (requests.empty()) throw mike::Error("editor ke: edit() called with no requests");
    if (!fitted_)
      throw mike::Error("editor ke: edit() before fit(): KE edits with a hypernetwork trained on the train split; "
                        "`mike run` fits it (or loads the cached fit) first, and code that uses the plugin directly "
                        "calls fit() or load_fitted()");
    const std::vector<EditSite> sites = edited_sites(model);
    for (std::size_t l = 0; l < sites.size(); ++l)
      if (std::make_pair(sites[l].input_dim, sites[l].output_dim) != sizes_.sites[l])
        throw mike::Error("editor ke: the fit was made for edit sites of other widths than this model's blocks; fit "
                          "again on this model");
    if (network_.parameters().front().device() != model.device()) network_.to(model.device());
    double loss_before = 0;
    const std::vector<SiteFactors> factors =
        capture_site_gradients(model, sites, mike::edit_training_batch(requests), loss_before);
    std::vector<std::string> weights;
    for (const EditSite& site : sites) weights.push_back(site.weight);
    mike::ParameterSnapshot before = model.snapshot(weights);
    std::vector<torch::Tensor> updates;
    {
      torch::NoGradGuard no_grad;
      updates = predict(factors);
    }
    const double delta_norm = mike::site_gradients::add_to_weights(model, sites, updates);
    return std::make_unique<mike::InPlaceEdit>(
        model, std::move(before),
        std::map<std::string, double>{{"loss_first", loss_before},
                                      {"delta_norm", delta_norm},
                                      {"positions", static_cast<double>(factors[reader_].u.size(0))}});
  }

 private:
  // dW per site from one edit's factors (the condition read from the lowest
  // site's rows; an edit with no rows there has nothing to condition on).
  std::vector<torch::Tensor> predict(const std::vector<SiteFactors>& factors) const {
    if (factors[reader_].u.size(0) == 0)
      throw mike::Error("editor ke: the edit has no token position with a gradient at the lowest edited block, so "
                        "there is nothing to read the edit from (is its target empty?)");
    const torch::Tensor condition = network_.condition(factors[reader_].u);
    std::vector<torch::Tensor> updates;
    for (std::size_t l = 0; l < factors.size(); ++l)
      updates.push_back(network_.update(l, condition, factors[l].gradient()));
    return updates;
  }

  std::vector<EditSite> edited_sites(const mike::Model& model) const {
    return mike::site_gradients::sites_of_blocks(model, layers_, "ke");
  }

  // The widths the hypernetwork is built for, and which site it reads (the
  // lowest block: the earliest view of the edit among the edited layers).
  void set_sizes(const std::vector<EditSite>& sites) {
    sizes_.sites.clear();
    for (const EditSite& site : sites) sizes_.sites.emplace_back(site.input_dim, site.output_dim);
    reader_ = static_cast<std::size_t>(
        std::min_element(sites.begin(), sites.end(), [](const EditSite& a, const EditSite& b) { return a.block < b.block; }) -
        sites.begin());
    sizes_.sequence_dim = sites[reader_].input_dim;
  }

  std::vector<int> layers_;
  double max_scale_;
  int fit_steps_;
  double fit_lr_, kl_margin_, lagrange_lr_, lagrange_init_;
  std::int64_t fit_seed_;
  ke::Sizes sizes_;
  std::size_t reader_ = 0;
  bool fitted_ = false;
  ke::HyperNetwork network_;
};

}  // namespace

MIKE_EDITOR_PLUGIN(KnowledgeEditor, "ke", "1.0.0",
                   "KE: a trained hypernetwork reads the edit and turns its gradient into a weight update under a KL bound",
                   kMikePluginDefaultConfig)
