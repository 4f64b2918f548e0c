#pragma once
// The text of the rating sheet's files: the HTML page (markup, style and
// the script that rates, keeps progress and exports ratings.csv), the items
// CSV and CSV rows. rating_sheet.cpp decides what goes in; this file only
// writes it, escaped.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mike {

struct SheetCaption {
  std::string item_id;  // opaque, e.g. c0042
  std::string text;
};

struct SheetEntity {
  std::string record_id, name;
  std::vector<std::string> references;
  std::string image_bytes, image_type;  // the file's bytes, its media type (inlined as a data: URL)
  std::vector<SheetCaption> captions;   // in the order the rater sees them
};

// The criteria each caption is rated on, and their scales (docs/human_eval.md).
struct RatingCriterion {
  const char* key;       // the ratings.csv column
  const char* question;  // what the rater is asked
  int min, max;
};
const std::vector<RatingCriterion>& rating_criteria();

// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
std::string csv_field(const std::string& text);
std::string csv_row(const std::vector<std::string>& fields);  // ends with "\n"

std::string image_media_type(const std::filesystem::path& image);
std::string sheet_html(const std::vector<SheetEntity>& entities, std::uint64_t seed);
std::string items_csv(const std::vector<SheetEntity>& entities);

}  // namespace mike
