#pragma once
// Splits a JSON-lines file, or a file holding one JSON array of objects
// (MMEdit/VLKEB), into per-record texts with the line each record starts on,
// so every later message can say "<file>:<line>".
#include <string>
#include <vector>

namespace mike::data {

struct RawRecord {
  int line = 0;      // 1-based line where the record starts
  std::string text;  // the record's JSON text
};

struct RawRecords {
  std::vector<RawRecord> records;
  std::string error;  // non-empty when the file's structure is broken (unterminated array/string)
  int error_line = 0;
};

// JSON lines: one object per non-blank line.
RawRecords split_json_lines(const std::string& text);
// A top-level JSON array `[ {...}, {...} ]`, or JSON lines when the first
// non-blank character is not '['.
RawRecords split_json_array_or_lines(const std::string& text);

}  // namespace mike::data
