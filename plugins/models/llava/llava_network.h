#pragma once
// The LLaVA network (Liu et al. 2023, "Visual Instruction Tuning"; LLaVA-1.5
// projector): vision tower -> 2-layer GELU MLP projector -> language model.
// Module names give the parameter names, e.g. "lm.layers.0.mlp.down_proj"
// is "lm.layers.0.down_proj.weight" here.
#include <torch/torch.h>

#include <string>

#include "language_model.h"
#include "llava_config.h"
#include "vision_tower.h"

namespace mike::llava {

class LlavaNetworkImpl : public torch::nn::Module {
 public:
  explicit LlavaNetworkImpl(const LlavaConfig& config);
  // pixels [N, 3, S, S] (preprocessed) -> image features in LM space [N, P, lm.hidden].
  torch::Tensor encode_images(const torch::Tensor& pixels, const TapRegistry& taps);

  VisionTower vision{nullptr};
  torch::nn::Linear projector_linear_1{nullptr}, projector_linear_2{nullptr};
  LanguageModel lm{nullptr};

 private:
  std::string projector_act_;
};
TORCH_MODULE(LlavaNetwork);

}  // namespace mike::llava
