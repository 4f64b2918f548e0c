#pragma once
// CLIP-style ViT vision encoder (Radford et al. 2021; LLaVA's vision tower):
// conv patch embedding, class token, learned position embeddings, pre-LayerNorm
// transformer blocks with quick-GELU MLPs. Returns the features of the
// configured hidden state(s) (class token dropped unless "full" selection).
#include <torch/torch.h>

#include <string>
#include <vector>

#include "llava_config.h"
#include "mike/taps.h"

namespace mike::llava {

class VisionBlockImpl : public torch::nn::Module {
 public:
  VisionBlockImpl(const VisionConfig& config, int index);
  torch::Tensor forward(torch::Tensor x, const TapRegistry& taps);

 private:
  int heads_;
  std::string act_;
  torch::nn::LayerNorm layer_norm1_{nullptr}, layer_norm2_{nullptr};
  torch::nn::Linear q_proj_{nullptr}, k_proj_{nullptr}, v_proj_{nullptr}, out_proj_{nullptr};
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
  std::string tap_out_;
};
TORCH_MODULE(VisionBlock);

class VisionTowerImpl : public torch::nn::Module {
 public:
  explicit VisionTowerImpl(const VisionConfig& config);
  // pixels: [B, 3, S, S], already resized and CLIP-normalised.
  // Returns [B, image_tokens, feature_width].
  torch::Tensor forward(const torch::Tensor& pixels, const TapRegistry& taps);
  // The number of blocks that run for the configured feature layer.
  int blocks_used() const { return blocks_used_; }

 private:
  VisionConfig config_;
  int blocks_used_;
  std::vector<int> selected_states_;
  torch::nn::Conv2d patch_embedding_{nullptr};
  torch::Tensor class_embedding_;
  torch::nn::Embedding position_embedding_{nullptr};
  torch::nn::LayerNorm pre_layernorm_{nullptr};
  std::vector<VisionBlock> layers_;
};
TORCH_MODULE(VisionTower);

}  // namespace mike::llava
