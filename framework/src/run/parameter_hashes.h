#pragma once
// Fingerprints of every parameter of a model (64-bit FNV-1a of name, shape,
// dtype and bytes), so the runner can check after each restore that the
// model is bitwise what it was before the edit, independently of the
// snapshot the editor restored from (which would only check itself).
#include <cstdint>
#include <map>
#include <string>

#include "mike/model.h"

namespace mike {

using ParameterHashes = std::map<std::string, std::uint64_t>;

ParameterHashes hash_parameters(Model& model);

// The first parameter whose hash differs between `expected` and `actual`, or
// that only one of them has; "" when they are equal.
std::string first_changed_parameter(const ParameterHashes& expected, const ParameterHashes& actual);

}  // namespace mike
