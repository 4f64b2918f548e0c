#pragma once
// mike::Config — an immutable view over a composed YAML config.
//
// Keys are dotted paths relative to the view ("optim.lr"). Every getter that
// fails says which key (full path from the root), what type was expected,
// what was found, and where the value came from (file:line:col or the
// command-line override), e.g.
//   config key 'editor.lr' expects a float but got string "fast"
//   (from configs/editor/ft_llm.yaml:3:5); set a number, e.g. editor.lr=1e-4
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mike/export.h"

namespace mike {

class MIKE_API Config {
 public:
  // An empty map.
  Config();
  // Parse YAML text; `origin` names it in error messages (e.g. a file path).
  static Config from_yaml(std::string_view text, const std::string& origin = "<string>");
  static Config from_file(const std::string& path);

  bool has(std::string_view key) const;
  // A view of a nested map; throws ConfigError if absent or not a map.
  Config sub(std::string_view key) const;
  // Keys of this map, in document order.
  std::vector<std::string> keys() const;
  bool empty() const;

  // Typed getters; T is one of bool, int, int64_t, double, float, std::string,
  // or std::vector of those. Throw ConfigError (exit 2) on a missing key or a
  // wrong type.
  template <class T>
  T get(std::string_view key) const;
  // As get(), but a missing (or null) key yields `fallback`; a wrong type still throws.
  template <class T>
  T get_or(std::string_view key, T fallback) const;

  // Full dotted path of this view from the root ("" at the root).
  const std::string& path() const { return prefix_; }
  // Where `key` was defined: "file:line:col", "override 'a.b=1'", or "".
  std::string origin(std::string_view key) const;
  // This view re-emitted as YAML text.
  std::string to_yaml() const;

 private:
  // The yaml-cpp tree and origin table, defined and reached only inside mike
  // (ConfigAccess); the SDK's public surface is the getters above.
  struct Impl;
  friend struct ConfigAccess;
  Config(std::shared_ptr<const Impl> impl, std::string prefix);
  std::shared_ptr<const Impl> impl_;
  std::string prefix_;
};

}  // namespace mike
