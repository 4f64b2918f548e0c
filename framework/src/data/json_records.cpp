#include "data/json_records.h"

namespace mike::data {

RawRecords split_json_lines(const std::string& text) {
  RawRecords out;
  int line = 1;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string row = text.substr(start, end - start);
    if (!row.empty() && row.back() == '\r') row.pop_back();
    if (row.find_first_not_of(" \t") != std::string::npos) out.records.push_back({line, row});
    ++line;
    start = end + 1;
  }
  return out;
}

RawRecords split_json_array_or_lines(const std::string& text) {
  std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || text[first] != '[') return split_json_lines(text);
  // Walk the array tracking nesting and strings; each top-level element is a record.
  RawRecords out;
  int line = 1;
  for (std::size_t i = 0; i < first; ++i) line += text[i] == '\n';
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  std::size_t element_start = std::string::npos;
  int element_line = 0;
  bool closed = false;
  for (std::size_t i = first + 1; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') ++line;
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (element_start == std::string::npos && depth == 0) {
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',') continue;
      if (c == ']') {
        closed = true;
        break;
      }
      element_start = i;
      element_line = line;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      --depth;
    }
    bool at_end = depth == 0 && (c == '}' || c == ']' || i + 1 == text.size() || text[i + 1] == ',' ||
                                 text[i + 1] == ']');
    if (element_start != std::string::npos && depth <= 0 && at_end) {
      out.records.push_back({element_line, text.substr(element_start, i + 1 - element_start)});
      element_start = std::string::npos;
      depth = 0;
    }
  }
  if (!closed) {
    out.error = in_string ? "unterminated string" : "the top-level JSON array is not closed with ']'";
    out.error_line = line;
  }
  return out;
}

}  // namespace mike::data
