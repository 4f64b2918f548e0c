#include "config/interpolation.h"

#include <cstdlib>
#include <map>
#include <set>
#include <vector>

#include "config/config_impl.h"
#include "mike/error.h"

namespace mike {
namespace {

class Resolver {
 public:
  Resolver(YAML::Node& root, const std::function<std::string(const std::string&)>& origin_of)
      : root_(root), origin_of_(origin_of) {}

  void resolve_all() { visit(root_, ""); }

 private:
  // Resolves every interpolation below `node` (whose key path is `path`) in place.
  void visit(YAML::Node node, const std::string& path) {
    if (node.IsMap()) {
      std::vector<std::string> keys;
      for (const auto& kv : node) keys.push_back(kv.first.Scalar());
      for (const std::string& key : keys) {
        std::string child_path = join_key_path(path, key);
        YAML::Node child = node[key];
        if (child.IsScalar() && has_interpolation(child.Scalar())) {
          node[key] = resolved_value(child_path);
        } else {
          visit(child, child_path);
        }
      }
    } else if (node.IsSequence()) {
      for (std::size_t i = 0; i < node.size(); ++i) {
        std::string child_path = join_key_path(path, std::to_string(i));
        YAML::Node child = node[i];
        if (child.IsScalar() && has_interpolation(child.Scalar())) {
          node[i] = resolved_value(child_path);
        } else {
          visit(child, child_path);
        }
      }
    }
  }

  static bool has_interpolation(const std::string& text) { return text.find("${") != std::string::npos; }

  // The '}' closing the "${" whose body starts at `from`, past nested "${...}"
  // (as in ${oc.env:X,${oc.env:HOME}}), or npos.
  static std::size_t matching_brace(const std::string& text, std::size_t from) {
    int depth = 0;
    for (std::size_t i = from; i < text.size(); ++i) {
      if (text.compare(i, 2, "${") == 0) {
        ++depth;
        ++i;
      } else if (text[i] == '}') {
        if (depth == 0) return i;
        --depth;
      }
    }
    return std::string::npos;
  }

  std::string chain_text(const std::string& last) const {
    std::string text;
    for (const std::string& key : stack_) text += key + " -> ";
    return text + last;
  }

  std::string where(const std::string& key) const {
    std::string origin = origin_of_(key);
    return origin.empty() ? "" : " (from " + origin + ")";
  }

  // The final value of key `path` (a node to store, never aliasing the tree).
  YAML::Node resolved_value(const std::string& path) {
    if (auto done = resolved_.find(path); done != resolved_.end()) return YAML::Clone(done->second);
    if (std::find(stack_.begin(), stack_.end(), path) != stack_.end())
      throw ConfigError("interpolation cycle: " + chain_text(path) + where(stack_.front()) +
                        "; make one of these keys a plain value");
    YAML::Node node = find_config_node(root_, split_key_path(path));
    if (!node.IsScalar() || !has_interpolation(node.Scalar())) {
      YAML::Node value = YAML::Clone(node);
      if (node.IsMap() || node.IsSequence()) {
        // A referenced subtree may itself contain interpolations.
        stack_.push_back(path);
        visit_copy(value, path);
        stack_.pop_back();
      }
      return value;
    }
    stack_.push_back(path);
    YAML::Node value = interpolate(node.Scalar(), path);
    stack_.pop_back();
    resolved_[path] = value;
    return YAML::Clone(value);
  }

  // Resolves interpolations inside a cloned subtree; `path` is where the
  // original lives, so nested keys resolve to their own (cached) values.
  void visit_copy(YAML::Node node, const std::string& path) {
    if (node.IsMap()) {
      std::vector<std::string> keys;
      for (const auto& kv : node) keys.push_back(kv.first.Scalar());
      for (const std::string& key : keys) {
        YAML::Node child = node[key];
        if (child.IsScalar() && has_interpolation(child.Scalar())) node[key] = resolved_value(join_key_path(path, key));
        else visit_copy(child, join_key_path(path, key));
      }
    } else if (node.IsSequence()) {
      for (std::size_t i = 0; i < node.size(); ++i) {
        YAML::Node child = node[i];
        std::string child_path = join_key_path(path, std::to_string(i));
        if (child.IsScalar() && has_interpolation(child.Scalar())) node[i] = resolved_value(child_path);
        else visit_copy(child, child_path);
      }
    }
  }

  // Evaluates the text of key `path`.
  YAML::Node interpolate(const std::string& text, const std::string& path) {
    std::string out;
    std::size_t pos = 0;
    std::size_t pieces = 0;
    YAML::Node whole;
    while (pos < text.size()) {
      if (text.compare(pos, 3, "\\${") == 0) {
        out += "${";
        pos += 3;
        ++pieces;
        continue;
      }
      if (text.compare(pos, 2, "${") != 0) {
        out += text[pos++];
        ++pieces;
        continue;
      }
      std::size_t close = matching_brace(text, pos + 2);
      if (close == std::string::npos)
        throw ConfigError("config key '" + path + "' has an unclosed interpolation in \"" + text + "\"" + where(path) +
                          "; write ${other.key}");
      std::string expression = text.substr(pos + 2, close - pos - 2);
      YAML::Node value = evaluate(expression, path, text);
      pos = close + 1;
      ++pieces;
      if (pos == text.size() && pieces == 1) return value;  // "${a.b}" alone keeps the type
      if (!value.IsScalar() && !value.IsNull())
        throw ConfigError("config key '" + path + "' splices ${" + expression + "}, which is " +
                          describe_yaml_value(value) + ", into text \"" + text + "\"" + where(path) +
                          "; only scalars can be part of a string");
      out += value.IsNull() ? "null" : value.Scalar();
    }
    // Text with interpolations spliced in is a string (as in OmegaConf).
    YAML::Node result(out);
    result.SetTag("!");
    return result;
  }

  YAML::Node evaluate(const std::string& expression, const std::string& path, const std::string& text) {
    for (const char* resolver : {"oc.env:", "env:"}) {
      std::string prefix = resolver;
      if (expression.rfind(prefix, 0) != 0) continue;
      std::string argument = expression.substr(prefix.size());
      std::size_t comma = argument.find(',');
      std::string variable = argument.substr(0, comma);
      while (!variable.empty() && variable.back() == ' ') variable.pop_back();
      if (const char* value = std::getenv(variable.c_str())) return YAML::Node(std::string(value));
      if (comma == std::string::npos)
        throw ConfigError("config key '" + path + "' reads environment variable " + variable + " (\"" + text +
                          "\"), which is not set" + where(path) + "; set it or give a default: ${oc.env:" +
                          variable + ",default}");
      std::string fallback = argument.substr(comma + 1);
      while (!fallback.empty() && fallback.front() == ' ') fallback.erase(0, 1);
      // A default may itself interpolate: ${oc.env:X,${oc.env:HOME}}.
      if (has_interpolation(fallback)) return interpolate(fallback, path);
      return fallback.empty() ? YAML::Node(std::string()) : load_yaml_text(fallback, "default of ${" + expression + "}");
    }
    std::string target = expression;
    if (has_interpolation(target))
      throw ConfigError("config key '" + path + "' has interpolation ${" + expression + "}" + where(path) +
                        ", a key path built from another interpolation, which is not supported; write the key path "
                        "out, e.g. ${editor.lr}");
    if (target.empty() || target.find(':') != std::string::npos)
      throw ConfigError("config key '" + path + "' has interpolation ${" + expression + "}" + where(path) +
                        ", which is neither a key path nor ${oc.env:VAR,default}");
    YAML::Node node = find_config_node(root_, split_key_path(target));
    if (!node.IsDefined()) {
      std::string hint;
      for (const std::string& near : nearest_key_paths(root_, target)) hint += (hint.empty() ? "" : ", ") + near;
      throw ConfigError("interpolation ${" + target + "} in config key '" + path + "'" + where(stack_.front()) +
                        " refers to a missing key (chain: " + chain_text(target) + ")" +
                        (hint.empty() ? "" : "; nearest existing keys: " + hint));
    }
    return resolved_value(target);
  }

  YAML::Node& root_;
  const std::function<std::string(const std::string&)>& origin_of_;
  std::vector<std::string> stack_;
  std::map<std::string, YAML::Node> resolved_;
};

}  // namespace

void resolve_interpolations(YAML::Node& root, const std::function<std::string(const std::string&)>& origin_of) {
  Resolver(root, origin_of).resolve_all();
}

}  // namespace mike
