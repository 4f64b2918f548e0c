#pragma once
// Host-side internals of mike::Config: the yaml-cpp tree and where each part
// of it came from. The composer (configs + overrides) builds these.
#include <yaml-cpp/yaml.h>

#include <map>
#include <string>

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

// Builds a Config over `root`, which the caller must not modify afterwards
// (it is shared, not copied, to keep each node's source line:col).
Config make_config(const YAML::Node& root, std::string default_origin,
                   std::map<std::string, std::string> origins = {});

// Splits "a.b.c" into {"a","b","c"}; throws ConfigError on empty segments.
std::vector<std::string> split_key_path(std::string_view key);
std::string join_key_path(const std::string& prefix, std::string_view key);

// One-word description of a node's type for messages: "map", "list", "null",
// "integer 3", "float 0.5", "bool true", "string \"abc\"".
std::string describe_yaml_value(const YAML::Node& node);

}  // namespace mike
