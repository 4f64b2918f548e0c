#include "gradient_network.h"

#include "fitted_state.h"
#include "mike/error.h"
#include "mike/model.h"

namespace mend {

namespace {
constexpr double kStdFloor = 1e-7;  // the reference's u_std + 1e-7

torch::Tensor need(const mike::FittedState& state, const std::string& name, std::vector<std::int64_t> shape) {
  return mike::site_gradients::fitted_float(state, name, shape, "mend");
}
}  // namespace

GradientNetwork::GradientNetwork(std::int64_t in, std::int64_t out, std::int64_t modes, std::int64_t rank,
                                 std::int64_t hidden, at::Generator& generator, torch::Device device)
    : in_(in), out_(out) {
  const std::int64_t d = in + out;
  for (std::int64_t l = 0; l <= hidden; ++l) {
    Layer layer;
    layer.a = torch::zeros({d, rank}).requires_grad_(true);
    layer.b = (torch::randn({rank, d}, generator) / std::sqrt(static_cast<double>(rank))).requires_grad_(true);
    layer.bias = torch::zeros({d}).requires_grad_(true);
    layer.scale = torch::zeros({modes, d}).requires_grad_(true);
    layer.shift = torch::zeros({modes, d}).requires_grad_(true);
    layers_.push_back(std::move(layer));
  }
  u_mean_ = torch::zeros({in});
  u_std_ = torch::ones({in});
  delta_mean_ = torch::zeros({out});
  delta_std_ = torch::ones({out});
  to(device);
}

void GradientNetwork::to(torch::Device device) {
  auto move = [&](torch::Tensor& t, bool trained) {
    t = t.detach().to(device);
    if (trained) t.requires_grad_(true);
  };
  for (Layer& layer : layers_)
    for (torch::Tensor* t : {&layer.a, &layer.b, &layer.bias, &layer.scale, &layer.shift}) move(*t, true);
  for (torch::Tensor* t : {&u_mean_, &u_std_, &delta_mean_, &delta_std_}) move(*t, false);
}

void GradientNetwork::set_normalisation(const torch::Tensor& u, const torch::Tensor& delta) {
  torch::NoGradGuard no_grad;
  u_mean_ = u.mean(0);
  delta_mean_ = delta.mean(0);
  // One row has no spread: keep unit scale rather than dividing by ~0.
  u_std_ = u.size(0) > 1 ? u.std(0) : torch::ones({in_});
  delta_std_ = delta.size(0) > 1 ? delta.std(0) : torch::ones({out_});
}

std::pair<torch::Tensor, torch::Tensor> GradientNetwork::transform(const torch::Tensor& u, const torch::Tensor& delta,
                                                                   std::int64_t mode) const {
  torch::Tensor z = torch::cat({(u - u_mean_) / (u_std_ + kStdFloor), (delta - delta_mean_) / (delta_std_ + kStdFloor)},
                               1);
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const Layer& layer = layers_[l];
    const torch::Tensor x = z * (1 + layer.scale[mode]) + layer.shift[mode];
    torch::Tensor pre = torch::matmul(torch::matmul(x, layer.b.t()), layer.a.t()) + layer.bias;
    if (l + 1 < layers_.size()) pre = torch::relu(pre);
    z = pre + x;
  }
  return {z.narrow(1, 0, in_), z.narrow(1, in_, out_)};
}

std::vector<torch::Tensor> GradientNetwork::parameters() const {
  std::vector<torch::Tensor> out;
  for (const Layer& layer : layers_)
    for (const torch::Tensor& t : {layer.a, layer.b, layer.bias, layer.scale, layer.shift}) out.push_back(t);
  return out;
}

void GradientNetwork::write(const std::string& prefix, mike::FittedState& state) const {
  state[prefix + "u_mean"] = u_mean_;
  state[prefix + "u_std"] = u_std_;
  state[prefix + "delta_mean"] = delta_mean_;
  state[prefix + "delta_std"] = delta_std_;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const std::string p = prefix + "layer" + std::to_string(l) + ".";
    const Layer& layer = layers_[l];
    state[p + "a"] = layer.a.detach();
    state[p + "b"] = layer.b.detach();
    state[p + "bias"] = layer.bias.detach();
    state[p + "scale"] = layer.scale.detach();
    state[p + "shift"] = layer.shift.detach();
  }
}

GradientNetwork GradientNetwork::read(const std::string& prefix, const mike::FittedState& state, std::int64_t in,
                                      std::int64_t out, std::int64_t modes, std::int64_t rank, std::int64_t hidden) {
  GradientNetwork net;
  net.in_ = in;
  net.out_ = out;
  const std::int64_t d = in + out;
  net.u_mean_ = need(state, prefix + "u_mean", {in});
  net.u_std_ = need(state, prefix + "u_std", {in});
  net.delta_mean_ = need(state, prefix + "delta_mean", {out});
  net.delta_std_ = need(state, prefix + "delta_std", {out});
  for (std::int64_t l = 0; l <= hidden; ++l) {
    const std::string p = prefix + "layer" + std::to_string(l) + ".";
    Layer layer;  // trainable again after load, so a loaded fit can be trained further
    layer.a = need(state, p + "a", {d, rank});
    layer.b = need(state, p + "b", {rank, d});
    layer.bias = need(state, p + "bias", {d});
    layer.scale = need(state, p + "scale", {modes, d});
    layer.shift = need(state, p + "shift", {modes, d});
    for (torch::Tensor* t : {&layer.a, &layer.b, &layer.bias, &layer.scale, &layer.shift}) t->requires_grad_(true);
    net.layers_.push_back(std::move(layer));
  }
  return net;
}

}  // namespace mend
