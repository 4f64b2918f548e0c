#pragma once
// Command-line overrides, Hydra grammar (README "Configs, overrides and sweeps"):
//   key=value    set an existing key (or pick a group option: editor=rome)
//   +key=value   add a key that does not exist yet (or a group not in the defaults)
//   ++key=value  set the key, adding it if needed
//   ~key         delete the key (or drop a group from the defaults)
// Values are typed by YAML rules: 3 is an int, 1e-4 a float, true a bool,
// null null, [a, b] a list, {a: 1} a map, 'x,y' (quoted) a string. An empty
// value is the empty string.
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace mike {

enum class OverrideOp { set, add, force, remove };

struct Override {
  OverrideOp op = OverrideOp::set;
  std::string key;    // dotted key path, or a group name
  std::string value;  // text after '=' (empty for remove)
  std::string text;   // the override as written, for messages
};

// Parses one override; throws ConfigError on a malformed one.
Override parse_override(const std::string& text);
// The value as a YAML node typed by YAML rules; throws ConfigError naming the override.
YAML::Node parse_override_value(const Override& override_item);
// "override 'editor.lr=1e-3'": how an override is named as a value's origin.
std::string override_origin(const Override& override_item);

// True when `value` (the text after '=') asks for several values: a comma at
// the top level (outside quotes and brackets) or range(...)/choice(...)/glob(...).
bool is_sweep_value(const std::string& value);
// Splits at top-level commas (or `separator`), outside quotes and (), [], {}.
std::vector<std::string> split_top_level(const std::string& text, char separator = ',');

}  // namespace mike
