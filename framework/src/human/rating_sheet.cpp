#include "human/rating_sheet.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "human/sheet_text.h"
#include "log/run_log.h"
#include "mike/error.h"
#include "mike/text_metrics.h"
#include "report/job_dirs.h"
#include "run/resampler.h"
#include "system/text_file.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mike {

namespace {

// The probe whose generation is the caption of the edit image after the edit.
constexpr const char* kCaptionProbe = "reliability";
constexpr const char* kUnedited = "unedited";

struct Caption {
  std::string text;
  double mention = 0, bleu4 = 0, rouge_l = 0;
};

struct System {
  std::string label;
  fs::path job_dir;
  std::map<std::string, Caption> by_record;
};

// What every system was asked for a record: the same for all of them.
struct Entity {
  std::string image, name;
  std::vector<std::string> references;
};

json read_summary(const fs::path& job_dir) {
  std::ifstream in(job_dir / "summary.json");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw DataError("human export: " + (job_dir / "summary.json").string() + " is not valid JSON (" + e.what() +
                    "); fix: `mike run --resume " + job_dir.string() + "` writes it again from run.h5");
  }
}

std::string string_field(const json& summary, const char* key) {
  return summary.contains(key) && summary.at(key).is_string() ? summary.at(key).get<std::string>() : "";
}

// The references column: one reference per line ("" holds none).
std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

Caption scored(const std::string& text, const Entity& entity) {
  return {text, mentions(text, entity.name) ? 1.0 : 0.0, bleu4(text, entity.references),
          rouge_l(text, entity.references)};
}

// Fisher-Yates with the bootstrap's index stream: the same seed gives the
// same sheet on every machine.
template <class T>
void shuffle(std::vector<T>& items, Resampler& rng) {
  for (std::size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[rng.index(i)]);
}

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

RatingSheetFiles write_rating_sheet(const fs::path& dir, const fs::path& out, const RatingSheetOptions& options) {
  if (!fs::is_directory(dir)) throw UsageError("human export: '" + dir.string() + "' is not a directory");
  if (fs::exists(out))
    throw UsageError("human export: '" + out.string() +
                     "' exists; it is never overwritten (a sheet may already be out with raters, its key beside "
                     "it); fix: give --out a new folder");
  if (options.per_system < 1 || options.per_system > 100000)
    throw UsageError("human export: --per-system must be in [1, 100000] (got " + std::to_string(options.per_system) + ")");

  // One system per ELC job; the unedited model joins when all edited the same one.
  std::vector<System> systems;
  std::vector<std::vector<std::pair<std::string, std::string>>> overrides;
  std::map<std::string, Entity> entities;
  std::set<std::string> models;
  System unedited{kUnedited, {}, {}};
  for (const fs::path& job_dir : find_job_dirs(dir)) {
    const json summary = read_summary(job_dir);
    if (string_field(summary, "task") != "elc") {
      spdlog::info("human export: {} left out: its task is '{}', captions come from task=elc runs", job_dir.string(),
                   string_field(summary, "task"));
      continue;
    }
    const auto log = RunLog::open_read_only(job_dir / "run.h5");
    const std::vector<GenerationRow> rows = log->read_generations(kCaptionProbe);
    if (rows.empty())
      throw DataError("human export: " + (job_dir / "run.h5").string() + " holds no /generations/" + kCaptionProbe +
                      " (the run was made with log.generations=false, or by a mike that did not keep "
                      "generations); fix: rerun it with log.generations=true");
    models.insert(string_field(summary, "model") + "@" + string_field(summary, "model_checkpoint"));
    System system{string_field(summary, "editor"), job_dir, {}};
    if (systems.empty()) unedited.job_dir = job_dir;
    std::map<std::string, std::int64_t> last_checkpoint;
    for (const GenerationRow& row : rows) {
      if (row.sample != 0) continue;
      // The record's last evaluation: sequential runs evaluate it at several checkpoints.
      auto [it, fresh] = last_checkpoint.emplace(row.record_id, row.checkpoint);
      if (!fresh && row.checkpoint < it->second) continue;
      it->second = row.checkpoint;
      Entity entity{row.image, row.answer, split_lines(row.references)};
      entities.emplace(row.record_id, entity);
      system.by_record[row.record_id] = scored(row.post, entity);
      if (systems.empty()) unedited.by_record[row.record_id] = scored(row.pre, entity);  // its pre column
    }
    systems.push_back(std::move(system));
    overrides.push_back(read_overrides(job_dir, "human export"));
  }
  if (systems.empty())
    throw UsageError("human export: no finished task=elc run under '" + dir.string() +
                     "'; run one first, e.g. `mike run task=elc -m editor=ft_llm,ike`");
  // Labels: the overrides that differ between the jobs (what was swept).
  for (std::size_t j = 0; j < systems.size(); ++j) {
    std::string label;
    for (const auto& [key, value] : overrides[j]) {
      if (key == "out_dir") continue;
      bool varies = false;
      for (const auto& other : overrides)
        varies = varies || std::find(other.begin(), other.end(), std::make_pair(key, value)) == other.end();
      if (varies) label += (label.empty() ? "" : " ") + key + "=" + value;
    }
    if (!label.empty()) systems[j].label = label;
  }
  std::map<std::string, int> seen;
  for (const System& system : systems) ++seen[system.label];
  for (System& system : systems)
    if (seen[system.label] > 1 || system.label == kUnedited)
      system.label += " (" + system.job_dir.filename().string() + ")";
  if (models.size() == 1)
    systems.push_back(std::move(unedited));
  else
    spdlog::info("human export: the jobs edited different models, so no 'unedited' captions are rated");

  // Records every system captioned, a seeded sample of them.
  std::vector<std::string> records;
  for (const auto& [record, caption] : systems.front().by_record) {
    bool everywhere = true;
    for (const System& system : systems) everywhere = everywhere && system.by_record.count(record);
    if (everywhere) records.push_back(record);
  }
  if (records.empty())
    throw DataError("human export: the jobs under '" + dir.string() +
                    "' share no record, so no caption can be compared across them; fix: export runs made on the "
                    "same dataset");
  Resampler rng(options.seed * 0x9e3779b97f4a7c15ULL + 0x4855);
  shuffle(records, rng);
  if (records.size() > static_cast<std::size_t>(options.per_system)) records.resize(options.per_system);

  // Opaque ids: a shuffled numbering, so an id says nothing about its system.
  const std::size_t total = records.size() * systems.size();
  std::vector<std::size_t> numbers(total);
  for (std::size_t i = 0; i < total; ++i) numbers[i] = i + 1;
  shuffle(numbers, rng);
  std::vector<SheetEntity> sheet_entities;
  std::string key_csv = "item_id,system,job_dir,record_id,mention,bleu4,rouge_l\n";
  std::size_t next = 0;
  for (const std::string& record : records) {
    const Entity& entity = entities.at(record);
    SheetEntity shown;
    shown.record_id = record;
    shown.name = entity.name;
    shown.references = entity.references;
    const fs::path image = entity.image;
    if (!fs::is_regular_file(image))
      throw DataError("human export: record " + record + ": its image '" + entity.image +
                      "' (the path the run read) is gone; fix: run `mike human export` from the folder the run "
                      "was started in, with its dataset in place");
    shown.image_bytes = read_bytes(image);
    shown.image_type = image_media_type(image);
    std::vector<std::size_t> order(systems.size());
    for (std::size_t s = 0; s < order.size(); ++s) order[s] = s;
    shuffle(order, rng);
    for (std::size_t s : order) {
      const Caption& caption = systems[s].by_record.at(record);
      char id[16];
      std::snprintf(id, sizeof id, "c%04zu", numbers[next++]);
      shown.captions.push_back({id, caption.text});
      key_csv += csv_row({id, systems[s].label, systems[s].job_dir.string(), record, std::to_string(caption.mention),
                          std::to_string(caption.bleu4), std::to_string(caption.rouge_l)});
    }
    sheet_entities.push_back(std::move(shown));
  }

  RatingSheetFiles files;
  files.sheet = out / "sheet" / "sheet.html";
  files.items = out / "sheet" / "items.csv";
  files.key = out / "key.csv";
  fs::create_directories(out / "sheet");
  write_text_file(files.sheet, sheet_html(sheet_entities, options.seed));
  write_text_file(files.items, items_csv(sheet_entities));
  write_text_file(files.key, key_csv);
  for (const System& system : systems) files.systems.push_back(system.label);
  files.records = static_cast<int>(records.size());
  files.items_written = static_cast<int>(total);
  return files;
}

}  // namespace mike
