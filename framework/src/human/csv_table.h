#pragma once
// Reading the CSV files raters and spreadsheets hand back (RFC 4180: quoted
// fields may hold commas, doubled quotes and line breaks; CRLF or LF; a
// UTF-8 byte-order mark is skipped), with the line each row starts on so
// that every error can name file:line.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace mike {

struct CsvRow {
  int line = 0;  // 1-based line of the file where the row starts
  std::vector<std::string> fields;
};

struct CsvTable {
  std::filesystem::path file;
  std::vector<std::string> header;
  std::vector<CsvRow> rows;  // blank lines left out
  // The index of `column` in the header; DataError naming the file and the
  // columns it has when it is missing.
  std::size_t column(const std::string& name) const;
};

// Throws DataError (file:line) for an unreadable file, an unclosed quote, a
// row whose field count differs from the header's, or a file over 64 MiB.
CsvTable read_csv(const std::filesystem::path& file);

}  // namespace mike
