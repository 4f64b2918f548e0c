#include "human/human_scores.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "human/csv_table.h"
#include "human/rater_agreement.h"
#include "human/sheet_text.h"
#include "mike/error.h"
#include "run/aggregate.h"

namespace fs = std::filesystem;

namespace mike {

namespace {

constexpr std::size_t kCriteria = 3;  // rating_criteria(): names, describes, fluent
constexpr std::array<const char*, 3> kAutomatic = {"mention", "bleu4", "rouge_l"};

struct KeyItem {
  std::string id, system, record_id;
  std::array<double, 3> automatic{};  // kAutomatic
};

using Rating = std::array<std::optional<int>, kCriteria>;

std::string number(double value) {
  if (std::isnan(value)) return "n/a";
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", value);
  return text;
}

double parse_double(const CsvTable& table, const CsvRow& row, std::size_t column) {
  const std::string& text = row.fields[column];
  try {
    std::size_t used = 0;
    const double value = std::stod(text, &used);
    if (used == text.size() && std::isfinite(value)) return value;
  } catch (const std::exception&) {
  }
  throw DataError(table.file.string() + ":" + std::to_string(row.line) + ": column " + table.header[column] +
                  " is '" + text + "', not a number; fix: use the key.csv `mike human export` wrote");
}

std::optional<int> parse_rating(const CsvTable& table, const CsvRow& row, std::size_t column,
                                const RatingCriterion& criterion) {
  const std::string& text = row.fields[column];
  if (text.empty()) return std::nullopt;  // not rated
  if (text.size() == 1 && text[0] >= '0' && text[0] <= '9') {
    const int value = text[0] - '0';
    if (value >= criterion.min && value <= criterion.max) return value;
  }
  throw DataError(table.file.string() + ":" + std::to_string(row.line) + ": " + criterion.key + " is '" + text +
                  "'; use a whole number from " + std::to_string(criterion.min) + " to " +
                  std::to_string(criterion.max) + ", or leave it empty if the caption was not rated");
}

}  // namespace

HumanScores import_ratings(const std::vector<fs::path>& ratings, const fs::path& key_file) {
  if (ratings.empty()) throw UsageError("human import: which ratings? usage: mike human import RATINGS.csv... --key KEY");
  const auto& criteria = rating_criteria();
  if (criteria.size() != kCriteria) throw Error("human import: built with " + std::to_string(criteria.size()) +
                                               " rating criteria but scores " + std::to_string(kCriteria));

  // The key: item -> system, record, automatic scores.
  const CsvTable key = read_csv(key_file);
  const std::size_t id_col = key.column("item_id"), system_col = key.column("system"),
                    record_col = key.column("record_id");
  std::array<std::size_t, 3> automatic_col{};
  for (std::size_t a = 0; a < kAutomatic.size(); ++a) automatic_col[a] = key.column(kAutomatic[a]);
  std::vector<KeyItem> items;
  std::map<std::string, std::size_t> item_index;
  std::vector<std::string> systems;
  for (const CsvRow& row : key.rows) {
    KeyItem item{row.fields[id_col], row.fields[system_col], row.fields[record_col], {}};
    for (std::size_t a = 0; a < kAutomatic.size(); ++a) item.automatic[a] = parse_double(key, row, automatic_col[a]);
    if (!item_index.emplace(item.id, items.size()).second)
      throw DataError(key.file.string() + ":" + std::to_string(row.line) + ": item " + item.id +
                      " appears twice; fix: use the key.csv `mike human export` wrote");
    if (std::find(systems.begin(), systems.end(), item.system) == systems.end()) systems.push_back(item.system);
    items.push_back(std::move(item));
  }
  if (items.empty()) throw DataError(key.file.string() + ": no items; fix: use the key.csv `mike human export` wrote");
  // Systems in name order, the unedited model (the pre-edit value) last.
  std::sort(systems.begin(), systems.end(), [](const std::string& x, const std::string& y) {
    return (x == "unedited") != (y == "unedited") ? y == "unedited" : x < y;
  });

  // Ratings: [rater][item], each criterion optional.
  std::vector<std::string> raters;
  std::map<std::string, std::vector<Rating>> by_rater;
  std::map<std::pair<std::string, std::string>, std::string> seen;  // (rater, item) -> file:line
  for (const fs::path& file : ratings) {
    const CsvTable table = read_csv(file);
    const std::size_t rater_col = table.column("rater"), item_col = table.column("item_id");
    std::array<std::size_t, kCriteria> criterion_col{};
    for (std::size_t c = 0; c < kCriteria; ++c) criterion_col[c] = table.column(criteria[c].key);
    for (const CsvRow& row : table.rows) {
      const std::string where = file.string() + ":" + std::to_string(row.line);
      const std::string& rater = row.fields[rater_col];
      const std::string& item = row.fields[item_col];
      if (rater.empty()) throw DataError(where + ": no rater name; fix: fill the rater column (one name per person)");
      const auto found = item_index.find(item);
      if (found == item_index.end())
        throw DataError(where + ": item '" + item + "' is not in the key " + key.file.string() +
                        "; fix: import ratings together with the key of the sheet they came from");
      const auto [previous, fresh] = seen.emplace(std::make_pair(rater, item), where);
      if (!fresh)
        throw DataError(where + ": " + rater + " rated " + item + " already (" + previous->second +
                        "); fix: keep one export per rater, or give two people different rater names");
      if (!by_rater.count(rater)) {
        raters.push_back(rater);
        by_rater[rater].resize(items.size());
      }
      for (std::size_t c = 0; c < kCriteria; ++c)
        by_rater[rater][found->second][c] = parse_rating(table, row, criterion_col[c], criteria[c]);
    }
  }
  if (raters.empty()) throw DataError("human import: the ratings files hold no rows; fix: export them from the sheet");

  HumanScores out;
  out.raters = static_cast<int>(raters.size());
  out.items = static_cast<int>(items.size());
  // Per item and criterion: the mean over the raters who rated it.
  std::vector<std::array<double, kCriteria>> item_mean(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    bool any = false;
    for (std::size_t c = 0; c < kCriteria; ++c) {
      double sum = 0;
      int n = 0;
      for (const std::string& rater : raters)
        if (const auto& v = by_rater[rater][i][c]) sum += *v, ++n, any = true;
      item_mean[i][c] = n ? sum / n : std::nan("");
    }
    out.items_rated += any ? 1 : 0;
  }

  std::string md = "# Human ratings of ELC captions\n\n";
  md += "Key: " + key.file.string() + " (" + std::to_string(items.size()) + " captions, " +
        std::to_string(systems.size()) + " systems). Raters: ";
  for (std::size_t r = 0; r < raters.size(); ++r) md += (r ? ", " : "") + raters[r];
  md += " (" + std::to_string(raters.size()) + "). Captions rated: " + std::to_string(out.items_rated) + ".\n\n";

  md += "## Scores per system\n\nMean over captions of the raters' mean rating; 95% CI: percentile bootstrap "
        "with the record (entity) as the unit, 10,000 resamples.\n\n| system |";
  for (const auto& c : criteria) md += std::string(" ") + c.key + " (" + std::to_string(c.min) + "-" + std::to_string(c.max) + ") |";
  md += " captions |\n|---|";
  for (std::size_t c = 0; c < kCriteria; ++c) md += "---|";
  md += "---|\n";
  for (const std::string& system : systems) {
    md += "| " + system + " |";
    int rated = 0;
    for (std::size_t c = 0; c < kCriteria; ++c) {
      std::vector<std::string> records;
      std::vector<double> values;
      for (std::size_t i = 0; i < items.size(); ++i)
        if (items[i].system == system && !std::isnan(item_mean[i][c])) {
          records.push_back(items[i].record_id);
          values.push_back(item_mean[i][c]);
        }
      rated = std::max(rated, static_cast<int>(values.size()));
      if (values.empty()) {
        md += " n/a |";
        continue;
      }
      const Aggregate a = cluster_bootstrap(records, values);
      md += " " + number(a.mean) + " [" + number(a.ci_low) + ", " + number(a.ci_high) + "] |";
    }
    md += " " + std::to_string(rated) + " |\n";
  }

  md += "\n## Agreement between raters\n\nKrippendorff's alpha over all raters (nominal for names, interval for the "
        "1-5 scales); Cohen's kappa when there are exactly two raters (unweighted for names, quadratic weights "
        "for the 1-5 scales), on the captions both rated.\n\n| criterion | alpha | kappa | captions rated by 2+ |\n"
        "|---|---|---|---|\n";
  for (std::size_t c = 0; c < kCriteria; ++c) {
    const bool nominal = criteria[c].max - criteria[c].min == 1;
    std::vector<std::vector<std::optional<double>>> matrix(raters.size(), std::vector<std::optional<double>>(items.size()));
    int pairable = 0;
    for (std::size_t i = 0; i < items.size(); ++i) {
      int n = 0;
      for (std::size_t r = 0; r < raters.size(); ++r)
        if (const auto& v = by_rater[raters[r]][i][c]) matrix[r][i] = *v, ++n;
      pairable += n >= 2 ? 1 : 0;
    }
    const double alpha = raters.size() >= 2
                             ? krippendorff_alpha(matrix, nominal ? AlphaLevel::kNominal : AlphaLevel::kInterval)
                             : std::nan("");
    double kappa = std::nan("");
    if (raters.size() == 2) {
      std::vector<int> a, b;
      for (std::size_t i = 0; i < items.size(); ++i)
        if (matrix[0][i] && matrix[1][i]) a.push_back(static_cast<int>(*matrix[0][i])), b.push_back(static_cast<int>(*matrix[1][i]));
      if (!a.empty()) kappa = cohen_kappa(a, b, nominal ? KappaWeights::kNone : KappaWeights::kQuadratic);
    }
    md += std::string("| ") + criteria[c].key + " | " + number(alpha) + " | " + number(kappa) + " | " +
          std::to_string(pairable) + " |\n";
  }
  if (raters.size() < 2) md += "\nOne rater: agreement needs at least two.\n";

  md += "\n## Human ratings against the automatic metrics\n\nSpearman's rho over captions between the raters' mean "
        "rating and each automatic score of the same caption (what `mike run` reports for ELC).\n\n| criterion |";
  for (const char* a : kAutomatic) md += std::string(" ") + a + " |";
  md += " captions |\n|---|---|---|---|---|\n";
  for (std::size_t c = 0; c < kCriteria; ++c) {
    md += std::string("| ") + criteria[c].key + " |";
    std::size_t n = 0;
    for (std::size_t a = 0; a < kAutomatic.size(); ++a) {
      std::vector<double> human, automatic;
      for (std::size_t i = 0; i < items.size(); ++i)
        if (!std::isnan(item_mean[i][c])) human.push_back(item_mean[i][c]), automatic.push_back(items[i].automatic[a]);
      n = human.size();
      md += " " + (n >= 2 ? number(spearman_rho(human, automatic)) : std::string("n/a")) + " |";
    }
    md += " " + std::to_string(n) + " |\n";
  }
  out.markdown = md;
  return out;
}

}  // namespace mike
