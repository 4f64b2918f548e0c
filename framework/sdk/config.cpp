#include "config/config_impl.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_map>

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

namespace {

std::string position_text(const std::string& origin, const YAML::Mark& mark) {
  return origin + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

// The byte offset of the first byte of `text` that is not valid UTF-8
// (overlong forms, surrogates and code points above U+10FFFF included), or npos.
std::size_t first_invalid_utf8(const std::string& text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t size = text.size();
  for (std::size_t i = 0; i < size;) {
    const unsigned char lead = bytes[i];
    std::size_t length = 0;
    std::uint32_t code = 0, min_code = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    }
    if ((lead & 0xE0) == 0xC0)
      length = 2, code = lead & 0x1F, min_code = 0x80;
    else if ((lead & 0xF0) == 0xE0)
      length = 3, code = lead & 0x0F, min_code = 0x800;
    else if ((lead & 0xF8) == 0xF0)
      length = 4, code = lead & 0x07, min_code = 0x10000;
    else
      return i;
    if (i + length > size) return i;
    for (std::size_t k = 1; k < length; ++k) {
      if ((bytes[i + k] & 0xC0) != 0x80) return i;
      code = (code << 6) | (bytes[i + k] & 0x3F);
    }
    if (code < min_code || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return i;
    i += length;
  }
  return std::string::npos;
}

std::string hex_byte(char byte) {
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned char>(byte));
  return hex;
}

YAML::Mark mark_at_offset(const std::string& text, std::size_t offset) {
  YAML::Mark mark;
  mark.pos = static_cast<int>(offset);
  mark.line = static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
  std::size_t line_start = text.rfind('\n', offset == 0 ? 0 : offset - 1);
  mark.column = static_cast<int>(line_start == std::string::npos || offset == 0 ? offset : offset - line_start - 1);
  return mark;
}

// Walks the parser's events of one document before yaml-cpp builds its tree:
// refuses duplicate map keys, and counts the nodes aliases stand for, since
// yaml-cpp shares an anchored node but everything that walks or re-emits the
// tree (merging, interpolation, to_yaml) visits it once per alias, so nested
// aliases ("billion laughs") would take forever there.
class YamlChecker : public YAML::EventHandler {
 public:
  explicit YamlChecker(const std::string& origin) : origin_(origin) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { add_leaf(mark, anchor, nullptr); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, const std::string& value) override {
    add_leaf(mark, anchor, &value);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    // An alias inside the node its anchor names makes that node contain
    // itself: a cycle every walk over the config (interpolation, merging,
    // printing) would follow until the stack runs out (fuzz_compose).
    for (const Container& open_container : stack_)
      if (open_container.anchor != YAML::NullAnchor && open_container.anchor == anchor)
        throw ConfigError("YAML in " + position_text(origin_, mark) + ": the alias *" + anchor_name(anchor) +
                          " is inside the node &" + anchor_name(anchor) +
                          " names, so that node would contain itself; alias it only outside that node");
    auto found = sizes_.find(anchor);
    const std::uint64_t size = found == sizes_.end() ? 1 : found->second;
    alias_nodes_ = saturating_add(alias_nodes_, size);
    if (alias_nodes_ > kMaxAliasNodes)
      throw ConfigError("YAML in " + position_text(origin_, mark) + ": its aliases (*" + anchor_name(anchor) +
                        " and the others) stand for more than " + std::to_string(kMaxAliasNodes) +
                        " nodes in all, nested aliases that would take forever to expand (a 'billion laughs' "
                        "alias bomb); write the values out, or alias each anchor fewer times");
    add_child(mark, size, nullptr);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, anchor, false);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(mark, anchor, true);
  }
  void OnMapEnd() override { close(); }
  void OnAnchor(const YAML::Mark&, const std::string& name) override { pending_anchor_name_ = name; }

 private:
  // Nodes that aliases may stand for in one document, all aliases together.
  static constexpr std::uint64_t kMaxAliasNodes = 1000000;

  struct Container {
    bool is_map = false;
    YAML::anchor_t anchor = 0;
    std::uint64_t size = 1;  // nodes in it, each alias counted as the nodes it stands for
    std::size_t children = 0;
    std::unordered_map<std::string, YAML::Mark> keys;  // of a map: scalar keys seen
  };

  static std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
  }

  std::string anchor_name(YAML::anchor_t anchor) const {
    auto found = names_.find(anchor);
    return found == names_.end() ? std::to_string(anchor) : found->second;
  }

  void name_anchor(YAML::anchor_t anchor) {
    if (anchor != YAML::NullAnchor && !pending_anchor_name_.empty()) names_[anchor] = pending_anchor_name_;
    pending_anchor_name_.clear();
  }

  void add_leaf(const YAML::Mark& mark, YAML::anchor_t anchor, const std::string* value) {
    name_anchor(anchor);
    if (anchor != YAML::NullAnchor) sizes_[anchor] = 1;
    add_child(mark, 1, value);
  }

  // A node of `size` nodes goes into the innermost open container; in a map
  // every other child is a key (`key` is its text when it is a scalar).
  void add_child(const YAML::Mark& mark, std::uint64_t size, const std::string* key) {
    if (stack_.empty()) return;
    Container& parent = stack_.back();
    if (parent.is_map && parent.children % 2 == 0 && key) {
      auto [first, inserted] = parent.keys.emplace(*key, mark);
      if (!inserted)
        throw ConfigError("duplicate key '" + *key + "' in " + position_text(origin_, mark) + " (first at line " +
                          std::to_string(first->second.line + 1) +
                          "); YAML would keep only one of them, so delete or rename one");
    }
    parent.size = saturating_add(parent.size, size);
    ++parent.children;
  }

  void open(const YAML::Mark&, YAML::anchor_t anchor, bool is_map) {
    name_anchor(anchor);
    Container container;
    container.is_map = is_map;
    container.anchor = anchor;
    stack_.push_back(std::move(container));
  }

  void close() {
    Container done = std::move(stack_.back());
    stack_.pop_back();
    if (done.anchor != YAML::NullAnchor) sizes_[done.anchor] = done.size;
    if (!stack_.empty()) {
      Container& parent = stack_.back();
      parent.size = saturating_add(parent.size, done.size);
      ++parent.children;
    }
  }

  const std::string& origin_;
  std::vector<Container> stack_;
  std::unordered_map<YAML::anchor_t, std::uint64_t> sizes_;
  std::unordered_map<YAML::anchor_t, std::string> names_;
  std::string pending_anchor_name_;
  std::uint64_t alias_nodes_ = 0;
};

// The most text one config (a file, a plugin's defaults, an override) may have.
constexpr std::size_t kMaxYamlBytes = 16u << 20;

}  // namespace

YAML::Node load_yaml_text(const std::string& text, const std::string& origin, YamlText kind) {
  if (text.size() > kMaxYamlBytes)
    throw ConfigError("config " + origin + " is " + std::to_string(text.size()) + " bytes, more than the " +
                      std::to_string(kMaxYamlBytes >> 20) + " MiB a config may have; split it or shorten it");
  if (std::size_t bad = first_invalid_utf8(text); bad != std::string::npos)
    throw ConfigError("config " + position_text(origin, mark_at_offset(text, bad)) + " is not valid UTF-8 (byte " +
                      hex_byte(text[bad]) + "); save the file as UTF-8");
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    YamlChecker checker(origin);
    if (parser.HandleNextDocument(checker)) {
      struct SecondDocument : YAML::EventHandler {
        YAML::Mark mark;
        bool seen = false;
        void OnDocumentStart(const YAML::Mark& m) override {
          if (!seen) mark = m;
          seen = true;
        }
        void OnDocumentEnd() override {}
        void OnNull(const YAML::Mark& m, YAML::anchor_t) override { OnDocumentStart(m); }
        void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { OnDocumentStart(m); }
        void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t, const std::string&) override {
          OnDocumentStart(m);
        }
        void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                             YAML::EmitterStyle::value) override {
          OnDocumentStart(m);
        }
        void OnSequenceEnd() override {}
        void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
          OnDocumentStart(m);
        }
        void OnMapEnd() override {}
      } second;
      bool more = false;
      try {
        more = parser.HandleNextDocument(second);
      } catch (const YAML::Exception& e) {
        // Text after a complete value that does not even parse.
        more = true;
        second.mark = e.mark;
      }
      if (more) {
        if (kind == YamlText::kValue)
          throw ConfigError(origin + " has text after a complete value, at column " +
                            std::to_string(second.mark.column + 1) + "; quote the whole value, e.g. key='a b', " +
                            "or remove the extra text");
        throw ConfigError("config " + position_text(origin, second.mark) +
                          " starts a second YAML document; a config file holds one document, so remove the '---' "
                          "line and merge the two, or split them into two files");
      }
    }
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    if (kind == YamlText::kValue)
      throw ConfigError(origin + " is not valid YAML (" + e.msg + " at column " + std::to_string(e.mark.column + 1) +
                        "); quote strings with special characters, e.g. key='a: b'");
    throw ConfigError("YAML syntax error in " + position_text(origin, e.mark) + ": " + e.msg +
                      "; fix the YAML at that position");
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

namespace {

// `subject` is "it" for a value, "each item" for a list; `example` the fix.
[[noreturn]] void throw_out_of_range(const Config& config, std::string_view key, const std::string& value,
                                     const char* subject, std::int64_t lo, std::int64_t hi, const std::string& example,
                                     const std::string& why) {
  const std::string full = join_key_path(config.path(), key);
  const std::string where = config.origin(key);
  throw ConfigError("config key '" + full + "' is " + value + (where.empty() ? "" : " (from " + where + ")") + "; " +
                    subject + " must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi) +
                    (why.empty() ? "" : " (" + why + ")") + "; set e.g. " + full + "=" + example);
}

}  // namespace

std::int64_t get_int_in_range(const Config& config, std::string_view key, std::int64_t fallback, std::int64_t lo,
                              std::int64_t hi, const std::string& why) {
  const std::int64_t value = config.get_or<std::int64_t>(key, fallback);
  if (value < lo || value > hi)
    throw_out_of_range(config, key, std::to_string(value), "it", lo, hi,
                       std::to_string(fallback >= lo && fallback <= hi ? fallback : lo), why);
  return value;
}

std::vector<std::int64_t> get_int_list_in_range(const Config& config, std::string_view key, std::int64_t lo,
                                                std::int64_t hi, const std::string& why) {
  std::vector<std::int64_t> values = config.get_or<std::vector<std::int64_t>>(key, {});
  for (std::size_t i = 0; i < values.size(); ++i)
    if (values[i] < lo || values[i] > hi) {
      std::string list;
      for (std::int64_t v : values) list += (list.empty() ? "" : ", ") + std::to_string(v);
      throw_out_of_range(config, key, "[" + list + "]", "each item", lo, hi, "[" + std::to_string(lo) + "]", why);
    }
  return values;
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
