#include "config/config_impl.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>

#include "mike/error.h"

namespace mike {
namespace {

YAML::Node find_node(const YAML::Node& start, const std::vector<std::string>& parts) {
  return find_config_node(start, parts);
}

bool is_quoted(const YAML::Node& node) { return node.Tag() == "!"; }

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

void collect_key_paths(const YAML::Node& node, const std::string& prefix, std::vector<std::string>& out) {
  if (!node.IsMap()) return;
  for (const auto& kv : node) {
    std::string path = join_key_path(prefix, kv.first.Scalar());
    out.push_back(path);
    collect_key_paths(kv.second, path, out);
  }
}

}  // namespace

YAML::Node find_config_node(const YAML::Node& start, const std::vector<std::string>& parts) {
  // yaml-cpp nodes are references: `reset` rebinds, `=` would overwrite the
  // tree, and non-const operator[] would insert. Only const lookups here.
  YAML::Node current;
  current.reset(start);
  for (const std::string& part : parts) {
    const YAML::Node& view = current;
    YAML::Node child;
    if (view.IsMap()) {
      const YAML::Node found = view[part];  // a zombie when absent; reset() would throw on it
      if (!found.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
      child.reset(found);
    } else if (view.IsSequence()) {
      char* end = nullptr;
      long index = std::strtol(part.c_str(), &end, 10);
      if (part.empty() || *end != '\0' || index < 0 || static_cast<std::size_t>(index) >= view.size())
        return YAML::Node(YAML::NodeType::Undefined);
      child.reset(view[static_cast<std::size_t>(index)]);
    } else {
      return YAML::Node(YAML::NodeType::Undefined);
    }
    if (!child.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
    current.reset(child);
  }
  return current;
}

namespace {

template <class T>
bool decode_scalar(const YAML::Node& node, T& out) {
  if (!node.IsScalar()) return false;
  if constexpr (std::is_same_v<T, std::string>) {
    out = node.Scalar();
    return true;
  } else {
    if (is_quoted(node)) return false;  // "3" is a string, not a number
    if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>) {
      // yaml-cpp accepts "true" as nothing numeric, but be explicit about bools.
      const std::string& s = node.Scalar();
      if (s == "true" || s == "false") return false;
    }
    return YAML::convert<T>::decode(node, out);
  }
}

template <class T>
const char* type_name() {
  if constexpr (std::is_same_v<T, bool>) return "a bool (true/false)";
  else if constexpr (std::is_same_v<T, int> || std::is_same_v<T, std::int64_t>) return "an integer";
  else if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>) return "a float";
  else return "a string";
}

template <class T>
const char* example_value() {
  if constexpr (std::is_same_v<T, bool>) return "true";
  else if constexpr (std::is_same_v<T, int> || std::is_same_v<T, std::int64_t>) return "3";
  else if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>) return "1e-4";
  else return "text";
}

template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {
  using element = T;
};

}  // namespace

std::vector<std::string> split_key_path(std::string_view key) {
  std::vector<std::string> parts;
  if (key.empty()) return parts;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = key.find('.', start);
    std::string_view part = key.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (part.empty()) throw ConfigError("config key '" + std::string(key) + "' has an empty segment; write keys like 'editor.lr'");
    parts.emplace_back(part);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts;
}

std::string join_key_path(const std::string& prefix, std::string_view key) {
  if (prefix.empty()) return std::string(key);
  if (key.empty()) return prefix;
  return prefix + "." + std::string(key);
}

std::string describe_yaml_value(const YAML::Node& node) {
  if (!node.IsDefined()) return "nothing";
  switch (node.Type()) {
    case YAML::NodeType::Null: return "null";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Scalar: {
      std::int64_t i;
      double d;
      bool b;
      const std::string& s = node.Scalar();
      if (!is_quoted(node)) {
        if (YAML::convert<std::int64_t>::decode(node, i)) return "integer " + s;
        if (s != "true" && s != "false" && YAML::convert<double>::decode(node, d)) return "float " + s;
        if (YAML::convert<bool>::decode(node, b)) return "bool " + s;
      }
      return "string \"" + s + "\"";
    }
    default: return "nothing";
  }
}

Config make_config(const YAML::Node& root, std::string default_origin, std::map<std::string, std::string> origins) {
  auto impl = std::make_shared<ConfigAccess::Impl>();
  // Not cloned: YAML::Clone drops source marks (line:col), which error
  // messages need. Callers hand over a tree they no longer modify.
  impl->root = root.IsDefined() && !root.IsNull() ? root : YAML::Node(YAML::NodeType::Map);
  impl->default_origin = std::move(default_origin);
  impl->origins = std::move(origins);
  return ConfigAccess::make(std::move(impl), "");
}

Config::Config() : Config(make_config(YAML::Node(YAML::NodeType::Map), "<empty>")) {}

Config::Config(std::shared_ptr<const Impl> impl, std::string prefix)
    : impl_(std::move(impl)), prefix_(std::move(prefix)) {}

YAML::Node load_yaml_text(const std::string& text, const std::string& origin) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError("YAML syntax error in " + origin + ":" + std::to_string(e.mark.line + 1) + ":" +
                      std::to_string(e.mark.column + 1) + ": " + e.msg + "; fix the YAML at that position");
  }
}

YAML::Node load_yaml_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read config file '" + path + "'; check the path and permissions");
  std::stringstream text;
  text << in.rdbuf();
  return load_yaml_text(text.str(), path);
}

std::vector<std::string> all_key_paths(const YAML::Node& root) {
  std::vector<std::string> out;
  collect_key_paths(root, "", out);
  return out;
}

std::vector<std::string> nearest_key_paths(const YAML::Node& root, const std::string& key, std::size_t count) {
  struct Candidate {
    std::size_t distance;
    std::size_t shared_prefix;
    std::string path;
  };
  std::vector<Candidate> candidates;
  for (std::string& path : all_key_paths(root)) {
    std::size_t shared = 0;
    while (shared < path.size() && shared < key.size() && path[shared] == key[shared]) ++shared;
    candidates.push_back({edit_distance(path, key), shared, std::move(path)});
  }
  std::stable_sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.distance != b.distance ? a.distance < b.distance : a.shared_prefix > b.shared_prefix;
  });
  std::vector<std::string> out;
  for (std::size_t i = 0; i < candidates.size() && i < count; ++i) out.push_back(candidates[i].path);
  return out;
}

Config Config::from_yaml(std::string_view text, const std::string& origin) {
  YAML::Node root = load_yaml_text(std::string(text), origin);
  if (root.IsDefined() && !root.IsNull() && !root.IsMap())
    throw ConfigError("config " + origin + " must be a YAML map at the top level, but it is " +
                      describe_yaml_value(root));
  return make_config(root, origin);
}

Config Config::from_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read config file '" + path + "'; check the path and permissions");
  std::stringstream text;
  text << in.rdbuf();
  return from_yaml(text.str(), path);
}

bool Config::has(std::string_view key) const {
  YAML::Node node = find_node(impl_->root, split_key_path(join_key_path(prefix_, key)));
  return node.IsDefined();
}

bool Config::empty() const { return keys().empty(); }

std::vector<std::string> Config::keys() const {
  YAML::Node node = find_node(impl_->root, split_key_path(prefix_));
  std::vector<std::string> out;
  if (!node.IsMap()) return out;
  for (const auto& kv : node) out.push_back(kv.first.Scalar());
  return out;
}

Config Config::sub(std::string_view key) const {
  std::string full = join_key_path(prefix_, key);
  YAML::Node node = find_node(impl_->root, split_key_path(full));
  if (!node.IsDefined())
    throw ConfigError("config key '" + full + "' is missing; add it to the config or pass +" + full + "={...}");
  if (!node.IsMap())
    throw ConfigError("config key '" + full + "' should be a map but is " + describe_yaml_value(node) +
                      (origin(key).empty() ? "" : " (from " + origin(key) + ")"));
  return Config(impl_, full);
}

std::string Config::origin(std::string_view key) const {
  std::string full = join_key_path(prefix_, key);
  std::string source = impl_->default_origin;
  std::size_t best = 0;
  bool found = false;
  for (const auto& [path, src] : impl_->origins) {
    bool prefix_match = full == path || (full.size() > path.size() && full.compare(0, path.size(), path) == 0 &&
                                         full[path.size()] == '.');
    if (prefix_match && (!found || path.size() >= best)) {
      best = path.size();
      source = src;
      found = true;
    }
  }
  YAML::Node node = find_node(impl_->root, split_key_path(full));
  bool from_override = source.rfind("override", 0) == 0;
  if (node.IsDefined() && !from_override && node.Mark().line >= 0 && !source.empty() && source[0] != '<')
    return source + ":" + std::to_string(node.Mark().line + 1) + ":" + std::to_string(node.Mark().column + 1);
  return source;
}

std::string Config::to_yaml() const {
  YAML::Node node = find_node(impl_->root, split_key_path(prefix_));
  YAML::Emitter out;
  out << node;
  return out.c_str();
}

template <class T>
T Config::get(std::string_view key) const {
  std::string full = join_key_path(prefix_, key);
  YAML::Node node = find_node(impl_->root, split_key_path(full));
  if (!node.IsDefined() || node.IsNull()) {
    throw ConfigError("config key '" + full + "' is " + (node.IsDefined() ? "null" : "missing") +
                      "; set it in the config or on the command line, e.g. " +
                      (node.IsDefined() ? "" : "+") + full + "=...");
  }
  auto fail = [&](const std::string& expected, const std::string& example) -> ConfigError {
    std::string where = origin(key);
    return ConfigError("config key '" + full + "' expects " + expected + " but got " + describe_yaml_value(node) +
                       (where.empty() ? "" : " (from " + where + ")") + "; set it like " + full + "=" + example);
  };
  if constexpr (is_vector<T>::value) {
    using E = typename is_vector<T>::element;
    if (!node.IsSequence()) throw fail(std::string("a list of ") + type_name<E>(), std::string("[") + example_value<E>() + "]");
    T out;
    for (const auto& item : node) {
      E value{};
      if (!decode_scalar<E>(item, value))
        throw fail(std::string("a list of ") + type_name<E>(), std::string("[") + example_value<E>() + "]");
      out.push_back(value);
    }
    return out;
  } else {
    T value{};
    if (!decode_scalar<T>(node, value)) throw fail(type_name<T>(), example_value<T>());
    return value;
  }
}

template <class T>
T Config::get_or(std::string_view key, T fallback) const {
  std::string full = join_key_path(prefix_, key);
  YAML::Node node = find_node(impl_->root, split_key_path(full));
  if (!node.IsDefined() || node.IsNull()) return fallback;
  return get<T>(key);
}

#define MIKE_CONFIG_INSTANTIATE(T)                         \
  template T Config::get<T>(std::string_view) const;       \
  template T Config::get_or<T>(std::string_view, T) const; \
  template std::vector<T> Config::get<std::vector<T>>(std::string_view) const; \
  template std::vector<T> Config::get_or<std::vector<T>>(std::string_view, std::vector<T>) const;
MIKE_CONFIG_INSTANTIATE(bool)
MIKE_CONFIG_INSTANTIATE(int)
MIKE_CONFIG_INSTANTIATE(std::int64_t)
MIKE_CONFIG_INSTANTIATE(double)
MIKE_CONFIG_INSTANTIATE(float)
MIKE_CONFIG_INSTANTIATE(std::string)
#undef MIKE_CONFIG_INSTANTIATE

}  // namespace mike
