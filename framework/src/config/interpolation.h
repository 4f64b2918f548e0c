#pragma once
// Resolves interpolations in a composed tree, after all overrides (Hydra/
// OmegaConf semantics):
//   ${a.b}                   the value at key path a.b (absolute); a value that is
//                            exactly one interpolation keeps its type (int, list, map)
//   "lr=${editor.lr}"        embedded in text: the value's text is spliced in
//   ${oc.env:VAR,default}    the environment variable VAR, or `default` when unset
//                            (${env:...} is accepted too); no default + unset is an error
//   \${...}                  a literal "${...}"
// A reference to a missing key or a cycle is a ConfigError that names the
// chain of keys and where the first one was written.
#include <yaml-cpp/yaml.h>

#include <functional>
#include <string>

namespace mike {

// `origin_of(key path)` names where a key was defined, for messages.
void resolve_interpolations(YAML::Node& root, const std::function<std::string(const std::string&)>& origin_of);

}  // namespace mike
