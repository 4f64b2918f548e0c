#include "human/csv_table.h"

#include <fstream>
#include <iterator>

#include "mike/error.h"

namespace mike {

namespace {
constexpr std::uintmax_t kMaxBytes = 64ull << 20;  // ratings of a few thousand captions are kilobytes
}  // namespace

std::size_t CsvTable::column(const std::string& name) const {
  for (std::size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return i;
  std::string have;
  for (const std::string& h : header) have += (have.empty() ? "" : ", ") + h;
  throw DataError(file.string() + ":1: no column '" + name + "' (the header has: " + have +
                  "); fix: keep the header row the sheet exported");
}

CsvTable read_csv(const std::filesystem::path& file) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(file, ec);
  if (ec) throw DataError(file.string() + ": cannot read it (" + ec.message() + ")");
  if (size > kMaxBytes)
    throw DataError(file.string() + ": " + std::to_string(size) + " bytes is not a ratings or key file (limit 64 MiB)");
  std::ifstream in(file, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);

  CsvTable table;
  table.file = file;
  std::vector<CsvRow> rows;
  CsvRow row{1, {}};
  std::string field;
  bool quoted = false, field_started = false;
  int line = 1;
  auto end_row = [&] {
    row.fields.push_back(field);
    const bool blank = row.fields.size() == 1 && row.fields[0].empty() && !field_started;
    if (!blank) rows.push_back(row);
    row = {line, {}};
    field.clear();
    field_started = false;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        if (c == '\n') ++line;
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
      field_started = true;
    } else if (c == ',') {
      row.fields.push_back(field);
      field.clear();
      field_started = true;
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      continue;
    } else if (c == '\n') {
      ++line;
      end_row();
    } else {
      field += c;
    }
  }
  if (quoted) throw DataError(file.string() + ":" + std::to_string(row.line) + ": a quoted field is never closed");
  if (!field.empty() || !row.fields.empty() || field_started) end_row();
  if (rows.empty()) throw DataError(file.string() + ": empty; expected a header row and one row per item");
  table.header = rows.front().fields;
  for (std::size_t r = 1; r < rows.size(); ++r) {
    if (rows[r].fields.size() != table.header.size())
      throw DataError(file.string() + ":" + std::to_string(rows[r].line) + ": " +
                      std::to_string(rows[r].fields.size()) + " fields where the header has " +
                      std::to_string(table.header.size()) + "; fix: quote a field that holds a comma");
    table.rows.push_back(std::move(rows[r]));
  }
  return table;
}

}  // namespace mike
