// LLaVA vision-language glue: image features projected into the LM's space.
#include "llava_network.h"

#include "activation.h"

namespace mike::llava {

LlavaNetworkImpl::LlavaNetworkImpl(const LlavaConfig& c) : projector_act_(c.projector.act) {
  vision = register_module("vision", VisionTower(c.vision));
  auto projector = register_module("projector", std::make_shared<torch::nn::Module>());
  const auto linear = [&](int in, int out) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(c.projector.bias));
  };
  projector_linear_1 = projector->register_module("linear_1", linear(c.vision.feature_width(), c.lm.hidden));
  projector_linear_2 = projector->register_module("linear_2", linear(c.lm.hidden, c.lm.hidden));
  lm = register_module("lm", LanguageModel(c.lm, c.vocab_size));
}

torch::Tensor LlavaNetworkImpl::encode_images(const torch::Tensor& pixels, const TapRegistry& taps) {
  static const std::string kProjectorOut = "projector.out";
  const torch::Tensor features = vision->forward(pixels, taps);
  // LLaVA-1.5 "mlp2x_gelu" projector: W2 * GELU(W1 * f + b1) + b2 (the activation is configurable).
  return taps.apply(kProjectorOut, projector_linear_2(activate(projector_act_, projector_linear_1(features))));
}

}  // namespace mike::llava
