#pragma once
// `mike human import`: the ratings of a sheet (ratings.csv files, one or
// more raters) joined with its key into per-system human scores with
// record-level bootstrap CIs, inter-rater agreement, and the Spearman
// correlation of the ratings with the automatic caption metrics (mention,
// BLEU-4, ROUGE-L), so a user sees how far those can stand in for raters.
#include <filesystem>
#include <string>
#include <vector>

namespace mike {

struct HumanScores {
  std::string markdown;  // the whole report
  int raters = 0;
  int items = 0;        // in the key
  int items_rated = 0;  // with at least one rating of any criterion
};

// Throws DataError naming file:line for a bad row (an unknown item, a value
// off its scale, a rater who rated an item twice), UsageError for no files.
HumanScores import_ratings(const std::vector<std::filesystem::path>& ratings, const std::filesystem::path& key);

}  // namespace mike
