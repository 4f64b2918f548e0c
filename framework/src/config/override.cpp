#include "config/override.h"

#include <cctype>

#include "config/config_impl.h"
#include "mike/error.h"

namespace mike {
namespace {

bool is_key_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '/' || c == '@';
}

const char* const kGrammarHint =
    "write key=value, +key=value (add), ++key=value (set or add) or ~key (delete), e.g. editor.lr=1e-4";

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// True when position `i` of `value` starts a value item (YAML quotes only there).
bool starts_item(const std::string& value, std::size_t i) {
  while (i > 0 && (value[i - 1] == ' ' || value[i - 1] == '\t')) --i;
  return i == 0 || std::string(",[{(:").find(value[i - 1]) != std::string::npos;
}

// Quotes and brackets of a value must pair up: an unclosed `range(0,5` or
// `[1, 2` would otherwise pass as a plain string.
void check_brackets(const Override& item) {
  const std::string& value = item.value;
  std::string open;  // the brackets still open, innermost last
  std::size_t open_at = 0;
  char quote = 0;
  std::size_t quote_at = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if ((c == '\'' || c == '"') && starts_item(value, i)) {  // it's: an apostrophe, not a quote
      quote = c;
      quote_at = i;
    } else if (c == '(' || c == '[' || c == '{') {
      if (open.empty()) open_at = i;
      open += c;
    } else if (c == ')' || c == ']' || c == '}') {
      const char expected = c == ')' ? '(' : c == ']' ? '[' : '{';
      if (open.empty() || open.back() != expected)
        throw ConfigError("override '" + item.text + "': '" + std::string(1, c) + "' at column " +
                          std::to_string(i + 1) + " of the value closes nothing" +
                          (open.empty() ? "" : " (the open bracket is '" + std::string(1, open.back()) + "')") +
                          "; fix the brackets, or quote the value to mean one string: " + item.key + "='" + value +
                          "'");
      open.pop_back();
    }
  }
  if (quote)
    throw ConfigError("override '" + item.text + "': the quote " + std::string(1, quote) + " at column " +
                      std::to_string(quote_at + 1) + " of the value is never closed; close it, e.g. " + item.key +
                      "='text'");
  if (!open.empty()) {
    std::string closers;
    for (auto it = open.rbegin(); it != open.rend(); ++it) closers += *it == '(' ? ')' : *it == '[' ? ']' : '}';
    throw ConfigError("override '" + item.text + "': '" + std::string(1, open.front()) + "' at column " +
                      std::to_string(open_at + 1) + " of the value is never closed; close it, e.g. " + item.key + "=" +
                      value + closers);
  }
}

}  // namespace

Override parse_override(const std::string& text) {
  Override result;
  result.text = text;
  std::size_t pos = 0;
  if (starts_with(text, "++")) {
    result.op = OverrideOp::force;
    pos = 2;
  } else if (starts_with(text, "+")) {
    result.op = OverrideOp::add;
    pos = 1;
  } else if (starts_with(text, "~")) {
    result.op = OverrideOp::remove;
    pos = 1;
  }
  std::size_t equals = text.find('=', pos);
  result.key = text.substr(pos, equals == std::string::npos ? std::string::npos : equals - pos);
  if (result.key.empty())
    throw ConfigError("override '" + text + "' has no key; " + kGrammarHint);
  for (char c : result.key) {
    if (!is_key_char(c))
      throw ConfigError("override '" + text + "': key '" + result.key + "' contains '" + std::string(1, c) +
                        "'; keys are dotted names like editor.lr; " + kGrammarHint);
  }
  split_key_path(result.key);  // rejects empty segments ("a..b", ".a")
  if (result.op == OverrideOp::remove) {
    if (equals != std::string::npos)
      throw ConfigError("override '" + text + "': a deletion takes no value; write ~" + result.key);
    return result;
  }
  if (equals == std::string::npos)
    throw ConfigError("override '" + text + "' has no '='; " + kGrammarHint);
  result.value = text.substr(equals + 1);
  check_brackets(result);
  return result;
}

YAML::Node parse_override_value(const Override& override_item) {
  // Hydra reads `key=` as the empty string, not null.
  if (override_item.value.empty()) return YAML::Node(std::string());
  return load_yaml_text(override_item.value,
                        "override '" + override_item.text + "': value '" + override_item.value + "'", YamlText::kValue);
}

std::string override_origin(const Override& override_item) { return "override '" + override_item.text + "'"; }

std::vector<std::string> split_top_level(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string current;
  int depth = 0;
  char quote = 0;
  for (char c : text) {
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '(' || c == '[' || c == '{') {
      ++depth;
    } else if (c == ')' || c == ']' || c == '}') {
      --depth;
    } else if (c == separator && depth == 0) {
      parts.push_back(current);
      current.clear();
      continue;
    }
    current += c;
  }
  parts.push_back(current);
  return parts;
}

bool is_sweep_value(const std::string& value) {
  for (const char* function : {"range(", "choice(", "glob("}) {
    if (starts_with(value, function) && !value.empty() && value.back() == ')') return true;
  }
  return split_top_level(value).size() > 1;
}

}  // namespace mike
