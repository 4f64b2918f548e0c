#include "hyper_network.h"

#include <cmath>

#include "fitted_state.h"
#include "mike/error.h"
#include "mike/model.h"

namespace ke {

namespace {
// PyTorch's default initialisations, from `generator`: U(-1/sqrt(fan), 1/sqrt(fan)).
torch::Tensor uniform(std::vector<std::int64_t> shape, double fan, at::Generator& generator) {
  const double bound = 1.0 / std::sqrt(fan);
  return torch::rand(shape, generator) * (2 * bound) - bound;
}
}  // namespace

HyperNetwork::HyperNetwork(Sizes sizes, double max_scale, at::Generator& generator, torch::Device device)
    : sizes_(std::move(sizes)), max_scale_(max_scale) {
  const std::int64_t h = sizes_.lstm_hidden, d = sizes_.sequence_dim, c = sizes_.condition_dim;
  for (Direction* dir : {&forward_, &backward_}) {
    dir->w_ih = uniform({4 * h, d}, static_cast<double>(h), generator);
    dir->w_hh = uniform({4 * h, h}, static_cast<double>(h), generator);
    dir->bias = uniform({4 * h}, static_cast<double>(h), generator);
  }
  cond_w_ = uniform({c, 2 * h}, static_cast<double>(2 * h), generator);
  cond_b_ = uniform({c}, static_cast<double>(2 * h), generator);
  for (const auto& [in, out] : sizes_.sites) {
    const std::int64_t k = 2 * (in + out) + 1;
    sites_.push_back({uniform({sizes_.hidden_dim, c}, static_cast<double>(c), generator),
                      uniform({sizes_.hidden_dim}, static_cast<double>(c), generator),
                      uniform({k, sizes_.hidden_dim}, static_cast<double>(sizes_.hidden_dim), generator),
                      uniform({k}, static_cast<double>(sizes_.hidden_dim), generator)});
  }
  mean_ = torch::zeros({d});
  std_ = torch::ones({d});
  to(device);
}

std::vector<std::pair<std::string, torch::Tensor*>> HyperNetwork::named() {
  std::vector<std::pair<std::string, torch::Tensor*>> out = {
      {"lstm.forward.w_ih", &forward_.w_ih},   {"lstm.forward.w_hh", &forward_.w_hh},
      {"lstm.forward.bias", &forward_.bias},   {"lstm.backward.w_ih", &backward_.w_ih},
      {"lstm.backward.w_hh", &backward_.w_hh}, {"lstm.backward.bias", &backward_.bias},
      {"condition.w", &cond_w_},               {"condition.b", &cond_b_}};
  for (std::size_t l = 0; l < sites_.size(); ++l) {
    const std::string p = "site" + std::to_string(l) + ".";
    out.insert(out.end(), {{p + "w1", &sites_[l].w1}, {p + "b1", &sites_[l].b1}, {p + "w2", &sites_[l].w2},
                           {p + "b2", &sites_[l].b2}});
  }
  return out;
}

std::vector<std::pair<std::string, std::vector<std::int64_t>>> HyperNetwork::shapes() const {
  const std::int64_t h = sizes_.lstm_hidden, d = sizes_.sequence_dim, c = sizes_.condition_dim;
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> out;
  for (const char* dir : {"forward", "backward"}) {
    const std::string p = std::string("lstm.") + dir + ".";
    out.insert(out.end(), {{p + "w_ih", {4 * h, d}}, {p + "w_hh", {4 * h, h}}, {p + "bias", {4 * h}}});
  }
  out.insert(out.end(), {{"condition.w", {c, 2 * h}}, {"condition.b", {c}}});
  for (std::size_t l = 0; l < sizes_.sites.size(); ++l) {
    const std::string p = "site" + std::to_string(l) + ".";
    const std::int64_t k = 2 * (sizes_.sites[l].first + sizes_.sites[l].second) + 1;
    out.insert(out.end(), {{p + "w1", {sizes_.hidden_dim, c}}, {p + "b1", {sizes_.hidden_dim}},
                           {p + "w2", {k, sizes_.hidden_dim}}, {p + "b2", {k}}});
  }
  return out;
}

void HyperNetwork::to(torch::Device device) {
  for (auto& [name, t] : named()) *t = t->detach().to(device).requires_grad_(true);
  mean_ = mean_.to(device);
  std_ = std_.to(device);
}

void HyperNetwork::set_normalisation(const torch::Tensor& rows) {
  torch::NoGradGuard no_grad;
  mean_ = rows.mean(0);
  std_ = rows.size(0) > 1 ? rows.std(0) : torch::ones_like(mean_);
}

torch::Tensor HyperNetwork::run(const Direction& d, const torch::Tensor& x) const {
  const std::int64_t h = sizes_.lstm_hidden;
  const torch::Tensor projected = torch::matmul(x, d.w_ih.t()) + d.bias;  // every step's input part at once
  torch::Tensor hidden = torch::zeros({h}, x.options()), cell = torch::zeros({h}, x.options());
  for (std::int64_t t = 0; t < x.size(0); ++t) {
    const torch::Tensor gates = projected[t] + torch::mv(d.w_hh, hidden);
    const auto chunks = gates.chunk(4);  // PyTorch's order: input, forget, cell, output
    cell = torch::sigmoid(chunks[1]) * cell + torch::sigmoid(chunks[0]) * torch::tanh(chunks[2]);
    hidden = torch::sigmoid(chunks[3]) * torch::tanh(cell);
  }
  return hidden;
}

torch::Tensor HyperNetwork::condition(const torch::Tensor& sequence) const {
  const torch::Tensor x = (sequence - mean_) / (std_ + 1e-7);
  const torch::Tensor both = torch::cat({run(forward_, x), run(backward_, x.flip(0))});
  return torch::tanh(torch::mv(cond_w_, both) + cond_b_);
}

torch::Tensor HyperNetwork::update(std::size_t site, const torch::Tensor& condition, const torch::Tensor& gradient) const {
  const SiteNet& net = sites_.at(site);
  const auto [in, out] = sizes_.sites[site];
  const torch::Tensor hidden = torch::tanh(torch::mv(net.w1, condition) + net.b1);
  const auto parts = (torch::mv(net.w2, hidden) + net.b2).split_with_sizes({in, out, in, out, 1});
  const torch::Tensor a = torch::outer(torch::softmax(parts[1], 0), parts[0]);  // [out, in]
  const torch::Tensor b = torch::outer(torch::softmax(parts[3], 0), parts[2]);
  return max_scale_ * torch::sigmoid(parts[4]) * (gradient * a + b);
}

std::vector<torch::Tensor> HyperNetwork::parameters() const {
  std::vector<torch::Tensor> out;
  for (auto& [name, t] : const_cast<HyperNetwork*>(this)->named()) out.push_back(*t);
  return out;
}

void HyperNetwork::write(mike::FittedState& state) const {
  for (auto& [name, t] : const_cast<HyperNetwork*>(this)->named()) state["net." + name] = t->detach();
  state["net.sequence_mean"] = mean_;
  state["net.sequence_std"] = std_;
}

HyperNetwork HyperNetwork::read(const mike::FittedState& state, Sizes sizes, double max_scale) {
  HyperNetwork net;
  net.sizes_ = std::move(sizes);
  net.max_scale_ = max_scale;
  net.sites_.resize(net.sizes_.sites.size());
  auto need = [&](const std::string& name, const std::vector<std::int64_t>& shape) {
    return mike::site_gradients::fitted_float(state, name, shape, "ke");
  };
  const auto expected = net.shapes();
  const auto slots = net.named();
  for (std::size_t i = 0; i < slots.size(); ++i) *slots[i].second = need("net." + expected[i].first, expected[i].second);
  net.mean_ = need("net.sequence_mean", {net.sizes_.sequence_dim});
  net.std_ = need("net.sequence_std", {net.sizes_.sequence_dim});
  for (auto& [name, t] : net.named()) t->requires_grad_(true);
  return net;
}

}  // namespace ke
