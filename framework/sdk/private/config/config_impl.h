#pragma once
// Internals of mike::Config, shared by the SDK's implementation and the host
// (never installed): the yaml-cpp tree and where each part of it came from.
// The host's composer (configs + overrides) builds these.
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mike/config.h"

namespace mike {

struct Config::Impl {
  YAML::Node root;
  // Source of nodes that have no entry in `origins` (a file path or label).
  std::string default_origin;
  // Key path -> source ("configs/editor/rome.yaml" or "override 'editor.lr=1'").
  // The longest matching prefix of a key decides its origin.
  std::map<std::string, std::string> origins;
};

// The one door to Config's private representation (a friend of Config).
struct ConfigAccess {
  using Impl = Config::Impl;
  static Config make(std::shared_ptr<const Config::Impl> impl, std::string prefix) {
    return Config(std::move(impl), std::move(prefix));
  }
  static const Config::Impl& impl(const Config& config) { return *config.impl_; }
};

// Builds a Config over `root`, which the caller must not modify afterwards
// (it is shared, not copied, to keep each node's source line:col).
Config make_config(const YAML::Node& root, std::string default_origin,
                   std::map<std::string, std::string> origins = {});

// Splits "a.b.c" into {"a","b","c"}; throws ConfigError on empty segments.
std::vector<std::string> split_key_path(std::string_view key);
std::string join_key_path(const std::string& prefix, std::string_view key);

// Follows a dotted path (split) from `start` without modifying the tree;
// returns an undefined node when any part is absent. Sequences take indices.
YAML::Node find_config_node(const YAML::Node& start, const std::vector<std::string>& parts);

// What a YAML text is, for the wording of its errors.
enum class YamlText {
  kFile,   // a config file or plugin defaults: one document
  kValue,  // an override's value: one value, nothing after it
};
// Parses YAML text / a file; a syntax error is a ConfigError naming
// origin:line:col. An empty document yields a null node. Refused too, before
// a tree is built: more than 16 MiB of text, invalid UTF-8, duplicate keys,
// a second document (text after the value), and aliases standing for more
// than a million nodes in all (an alias bomb).
YAML::Node load_yaml_text(const std::string& text, const std::string& origin, YamlText kind = YamlText::kFile);
YAML::Node load_yaml_file(const std::string& path);

// Every key path in `root` (maps are descended, lists are not), document order.
std::vector<std::string> all_key_paths(const YAML::Node& root);
// Up to `count` key paths of `root` closest to `key` (edit distance, ties
// broken by shared prefix), for "did you mean" hints.
std::vector<std::string> nearest_key_paths(const YAML::Node& root, const std::string& key, std::size_t count = 3);

// The integer at `key` of `config` (`fallback` when it is missing or null);
// a value outside [lo, hi] is a ConfigError naming the key, the value, where
// it came from and the range. `why` (may be empty) says what the bounds mean,
// e.g. "0 = one per core". Counts that size allocations, loops or threads go
// through here before they are used.
std::int64_t get_int_in_range(const Config& config, std::string_view key, std::int64_t fallback, std::int64_t lo,
                              std::int64_t hi, const std::string& why = "");
// As get_int_in_range, for each item of a list of integers (`[]` when missing).
std::vector<std::int64_t> get_int_list_in_range(const Config& config, std::string_view key, std::int64_t lo,
                                                std::int64_t hi, const std::string& why = "");

// One-word description of a node's type for messages: "map", "list", "null",
// "integer 3", "float 0.5", "bool true", "string \"abc\"".
std::string describe_yaml_value(const YAML::Node& node);

}  // namespace mike
