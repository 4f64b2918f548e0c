#pragma once
// Names of the activations the llava plugin implements (transformers' ACT2FN
// names), torch-free so config readers can validate without torch headers.
#include <algorithm>
#include <string>
#include <vector>

namespace mike::llava {

inline const std::vector<std::string>& activation_names() {
  static const std::vector<std::string> names = {"gelu", "quick_gelu", "gelu_pytorch_tanh", "gelu_new", "relu", "silu"};
  return names;
}

inline bool is_activation(const std::string& name) {
  const auto& names = activation_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

inline std::string activation_list() {
  std::string out;
  for (const auto& name : activation_names()) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace mike::llava
