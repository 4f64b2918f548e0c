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
//
// Several config folders may be searched (the user's, then the installed
// ones): the primary config and each group option come from the first folder
// that has them, and a group's options are the union over all folders.
// Plugins are group options too: `editor=<plugin>` with no file
// <group>/<plugin>.yaml anywhere composes as if that file were
// `plugin: <plugin>`. An override that changes a group's plugin
// (`editor.plugin=lora`) re-composes the group from that plugin's defaults
// instead of the group file, so no key of the previous plugin survives.
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

// group -> names of the plugins of that kind, for messages; may return none.
using PluginNamesLookup = std::function<std::vector<std::string>(const std::string&)>;

// Config folders in search order (first wins).
using ConfigDirs = std::vector<std::filesystem::path>;

struct ComposeRequest {
  std::filesystem::path config_dir = "configs";  // searched first
  ConfigDirs more_config_dirs;                   // searched after config_dir, in order (e.g. the installed configs)
  std::string config_name = "config";  // file <config_dir>/<config_name>.yaml (".yaml" optional)
  std::vector<std::string> overrides;  // as typed on the command line, none of them a sweep
  PluginDefaultsLookup plugin_defaults;  // may be empty
  PluginNamesLookup plugin_names;        // may be empty
};
// config_dir followed by more_config_dirs.
ConfigDirs config_dirs_of(const ComposeRequest& request);

struct ComposedConfig {
  Config config;
  // Group -> chosen option, in defaults order (e.g. editor -> ft_llm).
  std::vector<std::pair<std::string, std::string>> choices;
};

// Throws ConfigError (exit 2) with the fix for every bad input.
ComposedConfig compose_config(const ComposeRequest& request);

// The options of group `group` (file stems of <dir>/<group>/*.yaml over all
// dirs), sorted, each once.
std::vector<std::string> group_options(const ConfigDirs& dirs, const std::string& group);
// True when <dir>/<name> is a directory (a config group) in one of the dirs.
bool is_config_group(const ConfigDirs& dirs, const std::string& name);
// The path of the primary config file (from the first dir that has it);
// throws ConfigError if it is missing.
std::filesystem::path primary_config_path(const ConfigDirs& dirs, const std::string& config_name);

}  // namespace mike
