#include "run/parameter_hashes.h"

#include <torch/torch.h>

#include <sstream>

#include "mike/hash.h"

namespace mike {

ParameterHashes hash_parameters(Model& model) {
  torch::NoGradGuard no_grad;
  ParameterHashes hashes;
  for (const std::string& name : model.parameter_names()) {
    const torch::Tensor value = model.parameter(name).detach().contiguous().cpu();
    Fnv1a64 hash;
    std::ostringstream shape;
    shape << value.sizes() << value.dtype();
    hash.add_field(shape.str());
    hash.add_words(value.data_ptr(), static_cast<std::size_t>(value.numel()) * value.element_size());
    hashes[name] = hash.value();
  }
  return hashes;
}

std::string first_changed_parameter(const ParameterHashes& expected, const ParameterHashes& actual) {
  for (const auto& [name, hash] : expected) {
    auto it = actual.find(name);
    if (it == actual.end() || it->second != hash) return name;
  }
  for (const auto& [name, hash] : actual)
    if (!expected.count(name)) return name;
  return "";
}

}  // namespace mike
