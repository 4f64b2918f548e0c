#pragma once
// Activation functions by transformers' ACT2FN name (see activation_names.h).
#include <torch/torch.h>

#include <string>

#include "activation_names.h"

namespace mike::llava {

// `name` must be one of activation_names(); anything else is a bug upstream
// (configs are validated when read), reported as ModelError.
torch::Tensor activate(const std::string& name, const torch::Tensor& x);

}  // namespace mike::llava
