#pragma once
// Composes the config of one run, Hydra-style (README "Configs, overrides
// and sweeps"):
//   1. read <config_dir>/<config_name>.yaml and its `defaults` list;
//   2. apply group overrides (editor=rome, +group=opt, ~group) to that list;
//   3. merge, in defaults order, each group option <config_dir>/<group>/<option>.yaml
//      under key <group> (and, underneath it, the default config of the plugin
//      the file names with `plugin:`), and the primary file's own keys at `_self_`
//      (at the end when `_self_` is not listed);
//   4. apply value overrides (a.b=v, +a.b=v, ++a.b=v, ~a.b) in command-line order;
//   5. resolve ${...} interpolations.
// Every key remembers its source (file or override) for error messages.
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mike/config.h"

namespace mike {

// A plugin's default config: YAML text and a label naming it in messages.
struct PluginDefaults {
  std::string yaml;
  std::string label;  // e.g. "plugin editor 'ft' defaults (/path/libmike_editor_ft.so)"
};
// (group, plugin name) -> the plugin's defaults, or nullopt when no such
// plugin is found (composition then goes on without it).
using PluginDefaultsLookup = std::function<std::optional<PluginDefaults>(const std::string&, const std::string&)>;

struct ComposeRequest {
  std::filesystem::path config_dir = "configs";
  std::string config_name = "config";  // file <config_dir>/<config_name>.yaml (".yaml" optional)
  std::vector<std::string> overrides;  // as typed on the command line, none of them a sweep
  PluginDefaultsLookup plugin_defaults;  // may be empty
};

struct ComposedConfig {
  Config config;
  // Group -> chosen option, in defaults order (e.g. editor -> ft_llm).
  std::vector<std::pair<std::string, std::string>> choices;
};

// Throws ConfigError (exit 2) with the fix for every bad input.
ComposedConfig compose_config(const ComposeRequest& request);

// The options of group `group` (file stems of <config_dir>/<group>/*.yaml), sorted.
std::vector<std::string> group_options(const std::filesystem::path& config_dir, const std::string& group);
// True when <config_dir>/<name> is a directory (a config group).
bool is_config_group(const std::filesystem::path& config_dir, const std::string& name);
// The path of the primary config file; throws ConfigError if it is missing.
std::filesystem::path primary_config_path(const std::filesystem::path& config_dir, const std::string& config_name);

}  // namespace mike
