// CLIP ViT forward (CLIPVisionTransformer as used by LLaVA-1.5).
#include "vision_tower.h"

#include <algorithm>
#include <cmath>

#include "activation.h"

namespace mike::llava {

VisionBlockImpl::VisionBlockImpl(const VisionConfig& c, int index)
    : heads_(c.heads), act_(c.hidden_act), tap_out_("vision.layers." + std::to_string(index) + ".out") {
  const auto ln = torch::nn::LayerNormOptions({c.hidden}).eps(c.layer_norm_eps);
  layer_norm1_ = register_module("layer_norm1", torch::nn::LayerNorm(ln));
  q_proj_ = register_module("q_proj", torch::nn::Linear(c.hidden, c.hidden));
  k_proj_ = register_module("k_proj", torch::nn::Linear(c.hidden, c.hidden));
  v_proj_ = register_module("v_proj", torch::nn::Linear(c.hidden, c.hidden));
  out_proj_ = register_module("out_proj", torch::nn::Linear(c.hidden, c.hidden));
  layer_norm2_ = register_module("layer_norm2", torch::nn::LayerNorm(ln));
  fc1_ = register_module("fc1", torch::nn::Linear(c.hidden, c.intermediate));
  fc2_ = register_module("fc2", torch::nn::Linear(c.intermediate, c.hidden));
}

torch::Tensor VisionBlockImpl::forward(torch::Tensor x, const TapRegistry& taps) {
  const int64_t batch = x.size(0), tokens = x.size(1), hidden = x.size(2), head_dim = hidden / heads_;
  // Pre-LN self-attention (bidirectional: every patch sees every patch).
  torch::Tensor h = layer_norm1_(x);
  auto split = [&](const torch::Tensor& t) { return t.view({batch, tokens, heads_, head_dim}).transpose(1, 2); };
  torch::Tensor q = split(q_proj_(h)), k = split(k_proj_(h)), v = split(v_proj_(h));
  torch::Tensor weights = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(head_dim)), -1);
  torch::Tensor attn = torch::matmul(weights, v).transpose(1, 2).reshape({batch, tokens, hidden});
  x = x + out_proj_(attn);
  x = x + fc2_(activate(act_, fc1_(layer_norm2_(x))));
  return taps.apply(tap_out_, std::move(x));
}

VisionTowerImpl::VisionTowerImpl(const VisionConfig& c) : config_(c) {
  selected_states_ = c.selected_states();
  // Hidden state i is the output of block i-1: blocks past the last selected state never run.
  blocks_used_ = *std::max_element(selected_states_.begin(), selected_states_.end());
  patch_embedding_ = register_module(
      "patch_embedding",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(3, c.hidden, c.patch_size).stride(c.patch_size).bias(false)));
  class_embedding_ = register_parameter("class_embedding", torch::randn({c.hidden}) * 0.02);
  position_embedding_ = register_module("position_embedding", torch::nn::Embedding(c.num_patches() + 1, c.hidden));
  torch::nn::init::normal_(position_embedding_->weight, 0.0, 0.02);
  pre_layernorm_ = register_module(
      "pre_layernorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden}).eps(c.layer_norm_eps)));
  auto list = register_module("layers", torch::nn::ModuleList());
  for (int i = 0; i < c.layers; ++i) {
    layers_.push_back(VisionBlock(c, i));
    list->push_back(layers_.back());
  }
}

torch::Tensor VisionTowerImpl::forward(const torch::Tensor& pixels, const TapRegistry& taps) {
  const int64_t batch = pixels.size(0);
  torch::Tensor patches = patch_embedding_(pixels).flatten(2).transpose(1, 2);  // [B, P, H]
  torch::Tensor cls = class_embedding_.view({1, 1, -1}).expand({batch, 1, class_embedding_.size(0)});
  torch::Tensor x = torch::cat({cls, patches}, 1) + position_embedding_->weight.unsqueeze(0);
  x = pre_layernorm_(x);
  // hidden_states[i] for every selected i, concatenated along the feature
  // axis in the configured order (Hugging Face's vision_feature_layer list).
  std::vector<torch::Tensor> selected(selected_states_.size());
  auto keep = [&](int state) {
    for (std::size_t j = 0; j < selected_states_.size(); ++j)
      if (selected_states_[j] == state) selected[j] = x;
  };
  keep(0);
  for (int i = 0; i < blocks_used_; ++i) {
    x = layers_[i]->forward(x, taps);
    keep(i + 1);
  }
  torch::Tensor features = selected.size() == 1 ? selected[0] : torch::cat(selected, -1);
  // LLaVA's "default" strategy drops the class token; "full" keeps it.
  return config_.keep_class_token ? features : features.slice(1, 1);
}

}  // namespace mike::llava
