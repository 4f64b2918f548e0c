#include "config/composer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "config/config_impl.h"
#include "config/interpolation.h"
#include "config/override.h"
#include "mike/error.h"

namespace fs = std::filesystem;

namespace mike {
namespace {

std::string mark_text(const std::string& file, const YAML::Node& node) {
  if (node.Mark().line < 0) return file;
  return file + ":" + std::to_string(node.Mark().line + 1) + ":" + std::to_string(node.Mark().column + 1);
}

std::string join(const std::vector<std::string>& items, const char* separator = ", ") {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

// One entry of the defaults list: a group option, or `_self_` (group empty).
struct DefaultEntry {
  std::string group;
  std::string option;
  std::string origin;  // where it was chosen, for messages
  // A value override `<group>.plugin=X`: the plugin it picks and its origin.
  std::optional<std::pair<std::string, std::string>> plugin_override;
};

// The `plugin:` a group file names, or "" when it names none.
std::string plugin_of(const YAML::Node& content) {
  return content.IsMap() && content["plugin"] && content["plugin"].IsScalar() ? content["plugin"].Scalar() : "";
}

class Composer {
 public:
  explicit Composer(const ComposeRequest& request) : request_(request), dirs_(config_dirs_of(request)) {}

  ComposedConfig run() {
    primary_path_ = primary_config_path(dirs_, request_.config_name).string();
    YAML::Node primary = load_yaml_file(primary_path_);
    if (primary.IsDefined() && !primary.IsNull() && !primary.IsMap())
      throw ConfigError("config " + primary_path_ + " must be a YAML map at the top level, but it is " +
                        describe_yaml_value(primary));
    read_defaults(primary);
    std::vector<Override> value_overrides;
    for (const std::string& text : request_.overrides) {
      Override item = parse_override(text);
      if (item.key.find('.') == std::string::npos && is_config_group(dirs_, item.key))
        apply_group_override(item);
      else
        value_overrides.push_back(std::move(item));
    }
    for (const Override& item : value_overrides) note_plugin_override(item);
    root_ = YAML::Node(YAML::NodeType::Map);
    ComposedConfig result;
    for (const DefaultEntry& entry : defaults_) {
      if (entry.group.empty()) {
        merge_self(primary);
      } else {
        merge_group(entry);
        result.choices.emplace_back(entry.group, entry.option);
      }
    }
    for (const Override& item : value_overrides) apply_value_override(item);
    Config before_interpolation = make_config(root_, primary_path_, origins_);
    resolve_interpolations(root_, [&](const std::string& key) { return before_interpolation.origin(key); });
    result.config = make_config(root_, primary_path_, origins_);
    return result;
  }

 private:
  void read_defaults(const YAML::Node& primary) {
    bool has_self = false;
    if (primary.IsMap() && primary["defaults"]) {
      const YAML::Node list = primary["defaults"];
      if (!list.IsSequence())
        throw ConfigError("'defaults' in " + mark_text(primary_path_, list) +
                          " must be a list, e.g.\ndefaults:\n  - editor: ft_llm\n  - _self_");
      for (const auto& item : list) {
        std::string where = mark_text(primary_path_, item);
        if (item.IsScalar() && item.Scalar() == "_self_") {
          defaults_.push_back({"", "", where, {}});
          has_self = true;
        } else if (item.IsMap() && item.size() == 1) {
          auto kv = *item.begin();
          std::string group = kv.first.Scalar();
          if (kv.second.IsNull()) continue;  // "- group: null" lists a group with nothing chosen
          if (!kv.second.IsScalar())
            throw ConfigError("defaults entry for group '" + group + "' in " + where +
                              " must name one option, e.g. - " + group + ": <option>");
          defaults_.push_back({group, kv.second.Scalar(), where, {}});
        } else {
          throw ConfigError("defaults entry in " + where + " must be '- group: option' or '- _self_' but is " +
                            describe_yaml_value(item));
        }
      }
    }
    if (!has_self) defaults_.push_back({"", "", primary_path_, {}});  // Hydra: the primary config comes last
  }

  std::vector<DefaultEntry>::iterator find_group(const std::string& group) {
    return std::find_if(defaults_.begin(), defaults_.end(), [&](const DefaultEntry& e) { return e.group == group; });
  }

  void apply_group_override(const Override& item) {
    auto entry = find_group(item.key);
    std::string origin = override_origin(item);
    if (item.op == OverrideOp::remove) {
      if (entry == defaults_.end())
        throw ConfigError(origin + ": config group '" + item.key + "' is not in the defaults list of " +
                          primary_path_ + "; there is nothing to delete");
      defaults_.erase(entry);
      return;
    }
    YAML::Node value = parse_override_value(item);
    if (!value.IsScalar() || is_sweep_value(item.value))
      throw ConfigError(origin + ": config group '" + item.key + "' takes one option name, e.g. " + item.key + "=" +
                        example_option(item.key) + (is_sweep_value(item.value) ? "; to sweep over options add -m" : ""));
    if (item.op == OverrideOp::set && entry == defaults_.end())
      throw ConfigError(origin + ": config group '" + item.key + "' is not in the defaults list of " + primary_path_ +
                        "; write +" + item.text + " to add it");
    if (item.op == OverrideOp::add && entry != defaults_.end())
      throw ConfigError(origin + ": config group '" + item.key + "' is already in the defaults list (option '" +
                        entry->option + "'); write " + item.text.substr(1) + " to change it");
    if (entry != defaults_.end()) {
      entry->option = value.Scalar();
      entry->origin = origin;
    } else {
      defaults_.push_back({item.key, value.Scalar(), origin, {}});
    }
  }

  std::string example_option(const std::string& group) const {
    auto options = group_options(dirs_, group);
    return options.empty() ? "<option>" : options.front();
  }

  // `<group>.plugin=X` (set or force) on a group of the defaults list: the
  // group is composed from X's defaults instead of its file (merge_group).
  void note_plugin_override(const Override& item) {
    if (item.op == OverrideOp::remove || is_sweep_value(item.value)) return;
    std::vector<std::string> parts = split_key_path(item.key);
    if (parts.size() != 2 || parts[1] != "plugin") return;
    auto entry = find_group(parts[0]);
    if (entry == defaults_.end()) return;
    YAML::Node value = parse_override_value(item);
    if (value.IsScalar()) entry->plugin_override = std::make_pair(value.Scalar(), override_origin(item));
  }

  // An option names a file inside its group's folder (editor=rome, or
  // editor=sub/rome for <group>/sub/rome.yaml): `editor=../config` must not
  // load the primary config, or any other file, as a group.
  void check_option_name(const DefaultEntry& entry) const {
    const fs::path option = entry.option;
    bool plain = !entry.option.empty() && !option.is_absolute() && entry.option.find('\\') == std::string::npos;
    for (const fs::path& part : option) plain = plain && part != ".." && part != "." && !part.empty();
    if (plain) return;
    auto options = group_options(dirs_, entry.group);
    throw ConfigError("option '" + entry.option + "' for config group '" + entry.group + "' (from " + entry.origin +
                      ") is not a name in the group's folder " + (dirs_.front() / entry.group).string() +
                      ": option names take no '..', '.', leading '/' or empty parts; available options: " +
                      (options.empty() ? "(none)" : join(options)) + "; write e.g. " + entry.group + "=" +
                      (options.empty() ? "<option>" : options.front()));
  }

  // The first <dir>/<group>/<option>.yaml over the config dirs, or nullopt.
  std::optional<fs::path> find_group_file(const std::string& group, const std::string& option) const {
    std::error_code error;
    for (const fs::path& dir : dirs_)
      if (fs::is_regular_file(dir / group / (option + ".yaml"), error)) return dir / group / (option + ".yaml");
    return std::nullopt;
  }

  std::optional<PluginDefaults> plugin_defaults(const std::string& group, const std::string& plugin) const {
    if (!request_.plugin_defaults || plugin.empty()) return std::nullopt;
    return request_.plugin_defaults(group, plugin);
  }

  // A plugin's default config parsed, with its label for origins: nullopt
  // when the plugin is unknown; the node is undefined when the defaults are
  // not a map (nothing to merge).
  std::optional<std::pair<YAML::Node, std::string>> plugin_defaults_map(const std::string& group,
                                                                        const std::string& plugin) const {
    std::optional<PluginDefaults> defaults = plugin_defaults(group, plugin);
    if (!defaults) return std::nullopt;
    YAML::Node map = load_yaml_text(defaults->yaml, defaults->label);
    return std::make_pair(map.IsMap() ? map : YAML::Node(), defaults->label);
  }

  [[noreturn]] void throw_unknown_option(const DefaultEntry& entry) const {
    const fs::path file = dirs_.front() / entry.group / (entry.option + ".yaml");
    if (!is_config_group(dirs_, entry.group))
      throw ConfigError("config group '" + entry.group + "' (from " + entry.origin + ") does not exist: no folder " +
                        (dirs_.front() / entry.group).string() + "; fix the group name or add the folder");
    auto options = group_options(dirs_, entry.group);
    std::vector<std::string> plugins = request_.plugin_names ? request_.plugin_names(entry.group) : std::vector<std::string>{};
    throw ConfigError("unknown option '" + entry.option + "' for config group '" + entry.group + "' (from " +
                      entry.origin + "); available options: " + (options.empty() ? "(none)" : join(options)) +
                      (plugins.empty() ? "" : "; " + entry.group + " plugins (with their default config): " + join(plugins)) +
                      "; pick one of them or add " + file.string());
  }

  // The group option's content and where it came from: its file; for a
  // plugin with no file, `plugin: <option>`; for a `<group>.plugin=X`
  // override that changes the plugin, `plugin: X`.
  std::pair<YAML::Node, std::string> group_content(const DefaultEntry& entry) const {
    check_option_name(entry);
    YAML::Node content;
    std::string source;
    if (std::optional<fs::path> file = find_group_file(entry.group, entry.option)) {
      source = file->string();
      content = load_yaml_file(source);
      if (content.IsDefined() && !content.IsNull() && !content.IsMap())
        throw ConfigError("config " + source + " must be a YAML map at the top level, but it is " +
                          describe_yaml_value(content));
    } else if (plugin_defaults(entry.group, entry.option)) {
      source = entry.origin + " (" + entry.group + " plugin '" + entry.option + "', no file " +
               (dirs_.front() / entry.group / (entry.option + ".yaml")).string() + ")";
      content = YAML::Node(YAML::NodeType::Map);
      content["plugin"] = entry.option;
    } else {
      throw_unknown_option(entry);
    }
    if (entry.plugin_override && !plugin_of(content).empty() && entry.plugin_override->first != plugin_of(content)) {
      spdlog::debug("{}: {} is composed from plugin '{}' defaults, not from {}", entry.plugin_override->second,
                    entry.group, entry.plugin_override->first, source);
      source = entry.plugin_override->second;
      content = YAML::Node(YAML::NodeType::Map);
      content["plugin"] = entry.plugin_override->first;
    }
    return {content, source};
  }

  void merge_group(const DefaultEntry& entry) {
    auto [content, source] = group_content(entry);
    YAML::Node slot = ensure_map(entry.group, source);
    const std::string plugin = plugin_of(content);
    if (auto defaults = plugin_defaults_map(entry.group, plugin)) {
      if (defaults->first.IsDefined()) merge_map(slot, defaults->first, entry.group, defaults->second);
    } else if (!plugin.empty()) {
      spdlog::debug("config group {}={}: plugin '{}' was not found, so its default config is not merged "
                    "(fine for --cfg job; running the job needs the plugin)",
                    entry.group, entry.option, plugin);
    }
    if (content.IsMap()) {
      merge_nested_plugin_defaults(entry.group, content);
      merge_map(slot, content, entry.group, source);
    }
  }

  // A section of a group file that names a `plugin:` (e.g. the metric group's
  // `<name>: {plugin: <metric plugin>, ...}`) gets that plugin's default config merged
  // beneath it, as the group file itself does; the plugin is of the group's kind.
  void merge_nested_plugin_defaults(const std::string& group, const YAML::Node& content) {
    for (const auto& kv : content) {
      auto defaults = plugin_defaults_map(group, kv.second.IsMap() ? plugin_of(kv.second) : "");
      if (!defaults || !defaults->first.IsDefined()) continue;
      const auto& [plugin_config, label] = *defaults;
      const std::string key = kv.first.Scalar();
      const std::string path = join_key_path(group, key);
      if (!find_config_node(root_, {group, key}).IsMap()) {
        root_[group][key] = YAML::Node(YAML::NodeType::Map);
        set_origin(path, label);
      }
      merge_map(find_config_node(root_, {group, key}), plugin_config, path, label);
    }
  }

  // `+group.name={plugin: X, ...}` adds a plugin section to a group: X's
  // defaults go beneath the given keys, as for a section in a group file.
  YAML::Node with_nested_plugin_defaults(const std::vector<std::string>& parts, const YAML::Node& value) {
    if (parts.size() != 2 || find_group(parts[0]) == defaults_.end() || !value.IsMap()) return value;
    auto defaults = plugin_defaults_map(parts[0], plugin_of(value));
    if (!defaults || !defaults->first.IsDefined()) return value;
    YAML::Node merged = defaults->first;
    for (const auto& kv : value) merged[kv.first.Scalar()] = kv.second;
    return merged;
  }

  void merge_self(const YAML::Node& primary) {
    if (!primary.IsMap()) return;
    YAML::Node body(YAML::NodeType::Map);
    for (const auto& kv : primary) {
      if (kv.first.Scalar() != "defaults") body[kv.first] = kv.second;
    }
    merge_map(root_, body, "", primary_path_);
  }

  // The map at top-level key `key`, created (attributed to `source`) if absent.
  YAML::Node ensure_map(const std::string& key, const std::string& source) {
    YAML::Node existing = find_config_node(root_, {key});
    if (existing.IsMap()) return existing;
    root_[key] = YAML::Node(YAML::NodeType::Map);
    set_origin(key, source);
    return find_config_node(root_, {key});
  }

  void set_origin(const std::string& path, const std::string& source) {
    std::string prefix = path + ".";
    for (auto it = origins_.lower_bound(prefix); it != origins_.end() && it->first.rfind(prefix, 0) == 0;)
      it = origins_.erase(it);
    origins_[path] = source;
  }

  // Deep-merges map `source_map` into map `target` (at key path `path`): maps
  // merge key by key, anything else replaces. Nodes are shared, not copied,
  // so each keeps its line:col for messages.
  void merge_map(YAML::Node target, const YAML::Node& source_map, const std::string& path, const std::string& source) {
    // The pairs are copied out first: target and source_map can be the same
    // map (or share one through an alias), and inserting a key into a map
    // while iterating it frees the iterator's storage (fuzz_compose, ASan
    // heap-use-after-free, with a null and an empty key that are both "").
    std::vector<std::pair<YAML::Node, YAML::Node>> pairs;
    for (const auto& kv : source_map) pairs.emplace_back(kv.first, kv.second);
    for (const auto& [key_node, value] : pairs) {
      std::string key = key_node.Scalar();
      std::string child_path = join_key_path(path, key);
      YAML::Node existing = find_config_node(target, {key});
      if (existing.IsMap() && value.IsMap()) {
        merge_map(existing, value, child_path, source);
      } else {
        target[key] = value;
        set_origin(child_path, source);
      }
    }
  }

  std::string nearest_hint(const std::string& key) const {
    auto near = nearest_key_paths(root_, key);
    return near.empty() ? "" : "nearest existing keys: " + join(near) + "; ";
  }

  void apply_value_override(const Override& item) {
    std::string origin = override_origin(item);
    if (item.op != OverrideOp::remove && is_sweep_value(item.value))
      throw ConfigError(origin + " gives several values; run a sweep with -m, or quote the value to mean one string: " +
                        item.key + "='" + item.value + "'");
    std::vector<std::string> parts = split_key_path(item.key);
    YAML::Node existing = find_config_node(root_, parts);
    if (item.op == OverrideOp::set && !existing.IsDefined())
      throw ConfigError(origin + ": key '" + item.key + "' is not in the config; " + nearest_hint(item.key) +
                        "fix the key, or write +" + item.text + " to add it");
    if (item.op == OverrideOp::add && existing.IsDefined())
      throw ConfigError(origin + ": key '" + item.key + "' already exists (value " + describe_yaml_value(existing) +
                        "); write " + item.text.substr(1) + " to change it, or ++" + item.text.substr(1) +
                        " to set it either way");
    if (item.op == OverrideOp::remove && !existing.IsDefined())
      throw ConfigError(origin + ": key '" + item.key + "' is not in the config, so it cannot be deleted; " +
                        nearest_hint(item.key) + "fix the key");
    std::vector<std::string> parent_parts(parts.begin(), parts.end() - 1);
    // Walk down with non-const operator[] from root_: yaml-cpp keeps new
    // nodes alive through the memory of the handle they are assigned via,
    // which must be the tree's own.
    YAML::Node parent = root_;
    std::string parent_path;
    for (const std::string& part : parent_parts) {
      parent_path = join_key_path(parent_path, part);
      YAML::Node existing_child = find_config_node(parent, {part});
      if (!existing_child.IsDefined()) {
        if (parent.IsSequence())
          throw ConfigError(origin + ": list index '" + part + "' of '" + parent_path + "' is out of range");
        parent[part] = YAML::Node(YAML::NodeType::Map);
        set_origin(parent_path, origin);
      } else if (!existing_child.IsMap() && !existing_child.IsSequence()) {
        throw ConfigError(origin + ": key '" + parent_path + "' is " + describe_yaml_value(existing_child) +
                          ", not a map, so it cannot hold '" + item.key + "'; set " + parent_path + " itself instead");
      }
      YAML::Node child = parent.IsSequence() ? parent[std::stoul(part)] : parent[part];
      parent.reset(child);
    }
    const std::string& last = parts.back();
    if (item.op == OverrideOp::remove) {
      if (parent.IsSequence())
        throw ConfigError(origin + ": deleting list items is not supported; set the whole list instead");
      parent.remove(last);
      set_origin(item.key, origin);
      origins_.erase(item.key);
      return;
    }
    YAML::Node value = with_nested_plugin_defaults(parts, parse_override_value(item));
    if (parent.IsSequence()) {
      if (!existing.IsDefined())
        throw ConfigError(origin + ": list index '" + last + "' is out of range; set the whole list instead");
      parent[std::stoul(last)] = value;
    } else {
      parent[last] = value;
    }
    set_origin(item.key, origin);
  }

  const ComposeRequest& request_;
  const ConfigDirs dirs_;
  std::string primary_path_;
  std::vector<DefaultEntry> defaults_;
  YAML::Node root_;
  std::map<std::string, std::string> origins_;
};

}  // namespace

ConfigDirs config_dirs_of(const ComposeRequest& request) {
  ConfigDirs dirs{request.config_dir};
  dirs.insert(dirs.end(), request.more_config_dirs.begin(), request.more_config_dirs.end());
  return dirs;
}

std::vector<std::string> group_options(const ConfigDirs& dirs, const std::string& group) {
  std::vector<std::string> options;
  std::error_code error;
  for (const fs::path& dir : dirs)
    for (const auto& entry : fs::directory_iterator(dir / group, error))
      if (entry.is_regular_file() && entry.path().extension() == ".yaml") options.push_back(entry.path().stem().string());
  std::sort(options.begin(), options.end());
  options.erase(std::unique(options.begin(), options.end()), options.end());
  return options;
}

bool is_config_group(const ConfigDirs& dirs, const std::string& name) {
  std::error_code error;
  if (name.empty()) return false;
  for (const fs::path& dir : dirs)
    if (fs::is_directory(dir / name, error)) return true;
  return false;
}

fs::path primary_config_path(const ConfigDirs& dirs, const std::string& config_name) {
  fs::path name = config_name;
  if (name.extension() != ".yaml") name += ".yaml";
  std::error_code error;
  for (const fs::path& dir : dirs)
    if (fs::is_regular_file(dir / name, error)) return dir / name;
  // A path to a primary config outside the config dirs (an experiment's file,
  // e.g. experiments/benchmark_scale/config.yaml), relative to the working directory.
  if (name.has_parent_path() && fs::is_regular_file(name, error)) return name;
  std::vector<std::string> searched, available;
  for (const fs::path& dir : dirs) {
    if (!fs::is_directory(dir, error)) continue;
    searched.push_back(dir.string());
    for (const auto& entry : fs::directory_iterator(dir, error))
      if (entry.is_regular_file() && entry.path().extension() == ".yaml") available.push_back(entry.path().stem().string());
  }
  if (searched.empty()) {
    std::vector<std::string> names;
    for (const fs::path& dir : dirs) names.push_back("'" + dir.string() + "'");
    throw ConfigError("config director" + std::string(dirs.size() == 1 ? "y " : "ies ") + join(names) +
                      (dirs.size() == 1 ? " does" : " do") +
                      " not exist; run from the project root or pass --config-dir DIR");
  }
  std::sort(available.begin(), available.end());
  available.erase(std::unique(available.begin(), available.end()), available.end());
  throw ConfigError("config '" + config_name + "' not found: no file " + (dirs.front() / name).string() +
                    "; configs in " + join(searched) + ": " + (available.empty() ? "(none)" : join(available)) +
                    "; pass --config-name NAME");
}

ComposedConfig compose_config(const ComposeRequest& request) { return Composer(request).run(); }

}  // namespace mike
