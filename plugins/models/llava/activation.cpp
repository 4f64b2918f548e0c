// Activation functions (transformers' ACT2FN semantics).
#include "activation.h"

#include "mike/error.h"

namespace mike::llava {

torch::Tensor activate(const std::string& name, const torch::Tensor& x) {
  namespace F = torch::nn::functional;
  if (name == "gelu") return torch::gelu(x);  // exact (erf) GELU
  if (name == "quick_gelu") return x * torch::sigmoid(1.702 * x);  // CLIP's approximation
  if (name == "gelu_pytorch_tanh" || name == "gelu_new") return torch::gelu(x, "tanh");
  if (name == "relu") return torch::relu(x);
  if (name == "silu") return torch::silu(x);
  throw ModelError("llava: unknown activation '" + name + "' (supported: " + activation_list() +
                   "); this is a bug in the llava plugin's config validation");
}

}  // namespace mike::llava
