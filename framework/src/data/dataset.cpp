// Loading and validating edit datasets (mike JSON lines, MMEdit, VLKEB).
// Every check reports into a Problem list, so `validate` can show everything
// at once while `load` throws on the first.
#include "data/dataset.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>

#include "data/image.h"
#include "data/json_records.h"
#include "data/world.h"
#include "mike/error.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mike::data {

namespace {

const char* json_type_name(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "a list";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "a number";
    default: return "an unsupported value";
  }
}

// Shared state of one validation pass over a dataset folder.
struct Checker {
  fs::path root;            // image paths resolve against this
  fs::path canonical_root;  // for the escape check
  LoadOptions options;
  std::vector<Problem> problems;
  std::unordered_map<std::string, std::string> image_verdicts;  // path -> "" (ok) or the reason

  Checker(const fs::path& dataset_root, const LoadOptions& load_options)
      : root(fs::absolute(dataset_root).lexically_normal()), options(load_options) {
    std::error_code ec;
    canonical_root = fs::weakly_canonical(root, ec);
    if (ec) canonical_root = root;
  }

  void add(const std::string& file, int line, const std::string& field, const std::string& message,
           const std::string& fix) {
    problems.push_back({file, line, field, message, fix});
  }

  // Resolves an image path of a record; reports escape/missing/unreadable.
  fs::path resolve_image(const std::string& file, int line, const std::string& field, const std::string& value) {
    fs::path given(value);
    fs::path resolved = (given.is_absolute() ? given : root / given).lexically_normal();
    if (!options.allow_outside_root) {
      std::error_code ec;
      fs::path canonical = fs::weakly_canonical(resolved, ec);
      if (ec) canonical = resolved;
      auto mismatch = std::mismatch(canonical_root.begin(), canonical_root.end(), canonical.begin(), canonical.end());
      if (mismatch.first != canonical_root.end()) {
        add(file, line, field, "image path '" + value + "' resolves outside the dataset root '" + root.string() + "'",
            "fix: keep images inside the dataset folder and use a relative path, or set "
            "data.allow_outside_root=true if you trust this dataset");
        return resolved;
      }
    }
    if (options.check_images) {
      auto [it, inserted] = image_verdicts.try_emplace(resolved.string());
      if (inserted) {
        std::string reason;
        if (!probe_image(resolved, &reason)) it->second = reason.empty() ? "unreadable" : reason;
      }
      if (!it->second.empty()) {
        add(file, line, field, "image '" + value + "' (" + resolved.string() + ") cannot be used: " + it->second,
            "fix: put a PNG/JPEG image at that path or correct the path (relative to " + root.string() + ")");
      }
    }
    return resolved;
  }
};

enum class Need { kRequired, kRequiredNonEmpty, kOptional };

// Reads typed fields of one record, reporting each problem with its field path.
class RecordReader {
 public:
  RecordReader(Checker& checker, std::string file, int line, const json& object)
      : checker_(checker), file_(std::move(file)), line_(line), object_(object) {}

  void problem(const std::string& field, const std::string& message, const std::string& fix) {
    checker_.add(file_, line_, field, message, fix);
  }

  const json* find(const json& parent, const std::string& key, const std::string& path, Need need) {
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) {
      if (need != Need::kOptional) problem(path, "required field is missing", "fix: add \"" + key + "\" to the record");
      return nullptr;
    }
    return &*it;
  }

  std::string text_value(const json& value, const std::string& path, Need need) {
    if (!value.is_string()) {
      problem(path, std::string("must be a string but is ") + json_type_name(value),
              "fix: write it as a JSON string");
      return {};
    }
    std::string text = value.get<std::string>();
    if (need == Need::kRequiredNonEmpty && text.find_first_not_of(" \t\r\n") == std::string::npos) {
      problem(path, "must not be empty", "fix: give it a non-empty value");
    }
    return text;
  }

  std::string text(const json& parent, const std::string& key, const std::string& path, Need need) {
    const json* value = find(parent, key, path, need);
    return value ? text_value(*value, path, need) : std::string();
  }
  std::string text(const std::string& key, Need need) { return text(object_, key, key, need); }

  fs::path image_value(const json& value, const std::string& path) {
    std::string given = text_value(value, path, Need::kRequiredNonEmpty);
    if (given.find_first_not_of(" \t") == std::string::npos) return {};
    // The OS reads a path only up to a NUL, so "a.png\u0000b" would open
    // a.png: a path that is not the one written. Other control characters
    // are never part of a real file name here either.
    auto control = std::find_if(given.begin(), given.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
    if (control != given.end()) {
      char code[8];
      std::snprintf(code, sizeof code, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(*control)));
      problem(path, "image path contains the control character " + std::string(code) + " at byte " +
                        std::to_string(control - given.begin()) + " (" + std::string(*control ? "" : "NUL; ") +
                        "the file system would read a different path)",
              "fix: remove it from the path (JSON escapes such as \\u0000 are decoded before the path is used)");
      return {};
    }
    return checker_.resolve_image(file_, line_, path, given);
  }
  fs::path image(const json& parent, const std::string& key, const std::string& path, Need need) {
    const json* value = find(parent, key, path, need);
    return value ? image_value(*value, path) : fs::path();
  }
  fs::path image(const std::string& key, Need need) { return image(object_, key, key, need); }

  const json* list(const json& parent, const std::string& key, const std::string& path, Need need, bool non_empty) {
    const json* value = find(parent, key, path, need);
    if (!value) return nullptr;
    if (!value->is_array()) {
      problem(path, std::string("must be a list but is ") + json_type_name(*value), "fix: write it as a JSON list [...]");
      return nullptr;
    }
    if (non_empty && value->empty()) problem(path, "must not be an empty list", "fix: give at least one item");
    return value;
  }

  std::vector<fs::path> image_list(const json& parent, const std::string& key, const std::string& path, Need need) {
    std::vector<fs::path> out;
    const json* value = list(parent, key, path, need, need != Need::kOptional);
    if (!value) return out;
    for (std::size_t i = 0; i < value->size(); ++i) {
      out.push_back(image_value((*value)[i], path + "[" + std::to_string(i) + "]"));
    }
    return out;
  }

  const json* object(const json& parent, const std::string& key, const std::string& path, Need need) {
    const json* value = find(parent, key, path, need);
    if (value && !value->is_object()) {
      problem(path, std::string("must be an object but is ") + json_type_name(*value),
              "fix: write it as a JSON object {...}");
      return nullptr;
    }
    return value;
  }

  // Fields not in `known` are reported (mike format) so typos do not pass silently.
  void reject_unknown(const json& parent, const std::string& prefix, const std::vector<std::string>& known) {
    for (auto it = parent.begin(); it != parent.end(); ++it) {
      if (std::find(known.begin(), known.end(), it.key()) != known.end()) continue;
      std::string names;
      for (const auto& k : known) names += (names.empty() ? "" : ", ") + k;
      problem(prefix + it.key(), "unknown field", "fix: remove it or correct its spelling (known fields: " + names + ")");
    }
  }

  const json& root() const { return object_; }

 private:
  Checker& checker_;
  std::string file_;
  int line_;
  const json& object_;
};

const std::vector<std::string> kMikeFields = {"id",     "src",      "alt",      "pred",          "rephrase",
                                              "image",  "image_rephrase", "loc", "loc_ans",     "m_loc",
                                              "m_loc_q", "m_loc_a", "entity_id", "category",    "images",
                                              "elc",    "csr",      "csr_locality", "igen"};

EditRecord read_record(RecordReader& r, DatasetFormat format) {
  EditRecord record;
  const bool mike = format == DatasetFormat::kMike;
  const json& j = r.root();
  if (mike) r.reject_unknown(j, "", kMikeFields);
  record.src = r.text("src", Need::kRequiredNonEmpty);
  record.alt = r.text("alt", Need::kRequiredNonEmpty);
  record.pred = r.text("pred", Need::kOptional);
  record.rephrase = r.text("rephrase", mike ? Need::kRequiredNonEmpty : Need::kOptional);
  record.image = r.image("image", Need::kRequired);
  record.image_rephrase = r.image("image_rephrase", mike ? Need::kRequired : Need::kOptional);
  record.loc = r.text("loc", mike ? Need::kRequiredNonEmpty : Need::kOptional);
  record.loc_ans = r.text("loc_ans", mike ? Need::kRequiredNonEmpty : Need::kOptional);
  record.m_loc = r.image("m_loc", mike ? Need::kRequired : Need::kOptional);
  record.m_loc_q = r.text("m_loc_q", mike ? Need::kRequiredNonEmpty : Need::kOptional);
  record.m_loc_a = r.text("m_loc_a", mike ? Need::kRequiredNonEmpty : Need::kOptional);
  if (format == DatasetFormat::kVlkeb) {
    if (const json* port = r.list(j, "port_new", "port_new", Need::kOptional, false)) {
      for (std::size_t i = 0; i < port->size(); ++i) {
        std::string path = "port_new[" + std::to_string(i) + "]";
        const json& item = (*port)[i];
        if (!item.is_object()) {
          r.problem(path, std::string("must be an object but is ") + json_type_name(item),
                    "fix: write {\"Q&A\": {\"Question\": ..., \"Answer\": ...}}");
          continue;
        }
        PortabilityQa qa;
        if (const json* pair = r.object(item, "Q&A", path + ".Q&A", Need::kRequired)) {
          qa.question = r.text(*pair, "Question", path + ".Q&A.Question", Need::kRequiredNonEmpty);
          qa.answer = r.text(*pair, "Answer", path + ".Q&A.Answer", Need::kRequiredNonEmpty);
        }
        qa.image = r.image(item, "image", path + ".image", Need::kOptional);
        record.port_new.push_back(std::move(qa));
      }
    }
  }
  if (!mike) return record;

  record.id = r.text("id", Need::kRequiredNonEmpty);
  record.entity_id = r.text("entity_id", Need::kRequiredNonEmpty);
  record.category = r.text("category", Need::kRequiredNonEmpty);
  record.images = r.image_list(j, "images", "images", Need::kRequired);
  if (const json* elc = r.object(j, "elc", "elc", Need::kRequired)) {
    r.reject_unknown(*elc, "elc.", {"prompt", "rephrase", "references"});
    record.elc.prompt = r.text(*elc, "prompt", "elc.prompt", Need::kRequiredNonEmpty);
    record.elc.rephrase = r.text(*elc, "rephrase", "elc.rephrase", Need::kOptional);
    if (const json* refs = r.list(*elc, "references", "elc.references", Need::kRequired, true)) {
      for (std::size_t i = 0; i < refs->size(); ++i) {
        record.elc.references.push_back(
            r.text_value((*refs)[i], "elc.references[" + std::to_string(i) + "]", Need::kRequiredNonEmpty));
      }
    }
  }
  if (const json* csr = r.list(j, "csr", "csr", Need::kRequired, false)) {
    for (std::size_t i = 0; i < csr->size(); ++i) {
      std::string path = "csr[" + std::to_string(i) + "]";
      const json& item = (*csr)[i];
      if (!item.is_object()) {
        r.problem(path, std::string("must be an object but is ") + json_type_name(item),
                  "fix: write {\"image\": ..., \"question\": ..., \"answer\": ...}");
        continue;
      }
      r.reject_unknown(item, path + ".", {"image", "question", "answer", "rephrase"});
      CsrItem scene;
      scene.image = r.image(item, "image", path + ".image", Need::kRequired);
      scene.question = r.text(item, "question", path + ".question", Need::kRequiredNonEmpty);
      scene.answer = r.text(item, "answer", path + ".answer", Need::kRequiredNonEmpty);
      scene.rephrase = r.text(item, "rephrase", path + ".rephrase", Need::kOptional);
      record.csr.push_back(std::move(scene));
    }
  }
  if (const json* loc = r.object(j, "csr_locality", "csr_locality", Need::kOptional)) {
    r.reject_unknown(*loc, "csr_locality.", {"loc", "loc_ans", "m_loc", "m_loc_q", "m_loc_a"});
    record.csr_locality.loc = r.text(*loc, "loc", "csr_locality.loc", Need::kRequiredNonEmpty);
    record.csr_locality.loc_ans = r.text(*loc, "loc_ans", "csr_locality.loc_ans", Need::kRequiredNonEmpty);
    record.csr_locality.m_loc = r.image(*loc, "m_loc", "csr_locality.m_loc", Need::kRequired);
    record.csr_locality.m_loc_q = r.text(*loc, "m_loc_q", "csr_locality.m_loc_q", Need::kRequiredNonEmpty);
    record.csr_locality.m_loc_a = r.text(*loc, "m_loc_a", "csr_locality.m_loc_a", Need::kRequiredNonEmpty);
  }
  if (const json* igen = r.object(j, "igen", "igen", Need::kRequired)) {
    r.reject_unknown(*igen, "igen.", {"augmented", "other_view", "scene"});
    record.igen.augmented = r.image_list(*igen, "augmented", "igen.augmented", Need::kRequired);
    record.igen.other_view = r.image_list(*igen, "other_view", "igen.other_view", Need::kRequired);
    record.igen.scene = r.image_list(*igen, "scene", "igen.scene", Need::kRequired);
  }
  return record;
}

bool read_text_file(const fs::path& path, std::string* text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  *text = buffer.str();
  return true;
}

// Parses every record of one file into `records`, reporting problems into the checker.
void read_records_file(Checker& checker, const fs::path& file, DatasetFormat format, std::vector<EditRecord>* records,
                       std::size_t limit) {
  const std::string label = file.string();
  std::string text;
  if (!read_text_file(file, &text)) {
    checker.add(label, 0, "", fs::exists(file) ? "cannot be read" : "file does not exist",
                "fix: check the dataset folder and split name (mike format expects train.jsonl, dev.jsonl, "
                "test.jsonl), or create the dataset with `mike data synth --out DIR`");
    return;
  }
  RawRecords raw = format == DatasetFormat::kMike ? split_json_lines(text) : split_json_array_or_lines(text);
  if (!raw.error.empty()) {
    checker.add(label, raw.error_line, "", "broken JSON: " + raw.error, "fix: repair the file's JSON structure");
  }
  std::map<std::string, int> first_line_of_id;
  for (std::size_t index = 0; index < raw.records.size(); ++index) {
    if (limit > 0 && records && records->size() >= limit) break;
    const RawRecord& row = raw.records[index];
    json object;
    try {
      object = json::parse(row.text);
    } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 1e999
      std::string what = e.what();
      auto colon = what.find("parse error");
      checker.add(label, row.line, "", "not valid JSON (" + (colon == std::string::npos ? what : what.substr(colon)) + ")",
                  "fix: each record must be one JSON object" +
                      std::string(format == DatasetFormat::kMike ? " on a single line" : ""));
      continue;
    }
    if (!object.is_object()) {
      checker.add(label, row.line, "", std::string("record must be a JSON object but is ") + json_type_name(object),
                  "fix: write the record as {\"src\": ..., \"alt\": ..., ...}");
      continue;
    }
    RecordReader reader(checker, label, row.line, object);
    EditRecord record = read_record(reader, format);
    if (format != DatasetFormat::kMike) record.id = file.stem().string() + "-" + std::to_string(index);
    record.origin = label + ":" + std::to_string(row.line);
    if (format == DatasetFormat::kMike && !record.id.empty()) {
      auto [it, inserted] = first_line_of_id.try_emplace(record.id, row.line);
      if (!inserted) {
        checker.add(label, row.line, "id", "duplicate id '" + record.id + "' (first used at line " +
                                               std::to_string(it->second) + ")",
                    "fix: give every record its own id");
      }
    }
    if (records) records->push_back(std::move(record));
  }
}

fs::path split_file(const fs::path& dir, const std::string& split, DatasetFormat format) {
  if (format != DatasetFormat::kMike && fs::is_regular_file(dir)) return dir;
  if (format == DatasetFormat::kMike) return dir / (split + ".jsonl");
  fs::path json_file = dir / (split + ".json");
  if (fs::exists(json_file)) return json_file;
  fs::path lines_file = dir / (split + ".jsonl");
  return fs::exists(lines_file) ? lines_file : json_file;
}

[[noreturn]] void throw_first(const std::vector<Problem>& problems, const fs::path& dir) {
  std::string message = problems.front().to_string();
  if (problems.size() > 1) {
    message += "\n(and " + std::to_string(problems.size() - 1) + " more problem" +
               (problems.size() > 2 ? "s" : "") + "; `mike data validate " + dir.string() + "` lists them all)";
  }
  throw DataError(message);
}

const std::set<std::string> kPretrainKinds = {"name", "fact", "category", "caption", "context", "csr"};
const std::set<std::string> kControlKinds = {"heldout_paraphrase", "csr_control", "in_context", "edit_name_text"};

void read_pretrain_file(Checker& checker, const fs::path& file, const std::set<std::string>& kinds,
                        std::vector<PretrainRecord>* out) {
  const std::string label = file.string();
  std::string text;
  if (!read_text_file(file, &text)) {
    checker.add(label, 0, "", "file does not exist",
                "fix: pretraining needs the corpus `mike data synth` writes; regenerate the dataset");
    return;
  }
  RawRecords raw = split_json_lines(text);
  for (const RawRecord& row : raw.records) {
    json object;
    try {
      object = json::parse(row.text);
    } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 1e999
      checker.add(label, row.line, "", std::string("not valid JSON (") + e.what() + ")",
                  "fix: one JSON object per line");
      continue;
    }
    if (!object.is_object()) {
      checker.add(label, row.line, "", std::string("record must be a JSON object but is ") + json_type_name(object),
                  "fix: write {\"kind\": ..., \"prompt\": ..., \"answer\": ...}");
      continue;
    }
    RecordReader r(checker, label, row.line, object);
    r.reject_unknown(object, "", {"kind", "image", "prompt", "answer", "entity_id"});
    PretrainRecord record;
    record.kind = r.text("kind", Need::kRequiredNonEmpty);
    if (!record.kind.empty() && !kinds.count(record.kind)) {
      std::string known;
      for (const auto& k : kinds) known += (known.empty() ? "" : ", ") + k;
      r.problem("kind", "unknown kind '" + record.kind + "'", "fix: use one of " + known);
    }
    record.image = r.image("image", Need::kOptional);
    record.prompt = r.text("prompt", Need::kRequiredNonEmpty);
    record.answer = r.text("answer", Need::kRequiredNonEmpty);
    record.entity_id = r.text("entity_id", Need::kOptional);
    if (out) out->push_back(std::move(record));
  }
}

}  // namespace

const std::vector<fs::path>& IgenImages::variant(const std::string& name) const {
  if (name == "augmented") return augmented;
  if (name == "other_view") return other_view;
  if (name == "scene") return scene;
  throw ConfigError("unknown I-Gen image variant '" + name + "'; use augmented, other_view or scene");
}

DatasetFormat parse_dataset_format(const std::string& name) {
  if (name == "mike") return DatasetFormat::kMike;
  if (name == "mmedit") return DatasetFormat::kMmedit;
  if (name == "vlkeb") return DatasetFormat::kVlkeb;
  throw ConfigError("unknown dataset format '" + name + "'; use mike, mmedit or vlkeb (data.format)");
}

const char* format_name(DatasetFormat format) {
  switch (format) {
    case DatasetFormat::kMike: return "mike";
    case DatasetFormat::kMmedit: return "mmedit";
    case DatasetFormat::kVlkeb: return "vlkeb";
  }
  return "?";
}

std::string Problem::to_string() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line);
  if (!out.empty()) out += ": ";
  if (!field.empty()) out += "field '" + field + "': ";
  out += message;
  if (!fix.empty()) out += "; " + fix;
  return out;
}

fs::path split_path(const fs::path& dir, const std::string& split, const std::string& format) {
  return split_file(dir, split, parse_dataset_format(format));
}

Dataset load_dataset(const fs::path& dir, const std::string& split, const std::string& format,
                     const LoadOptions& options) {
  Dataset dataset;
  dataset.format = parse_dataset_format(format);
  dataset.split = split;
  dataset.file = split_file(dir, split, dataset.format);
  fs::path root = fs::is_regular_file(dir) ? dir.parent_path() : dir;
  if (!fs::is_directory(root.empty() ? fs::path(".") : root)) {
    throw DataError("dataset folder '" + dir.string() +
                    "' does not exist; fix: set data.dir to a dataset folder, or create one with "
                    "`mike data synth --out " + dir.string() + "`");
  }
  Checker checker(root.empty() ? fs::path(".") : root, options);
  dataset.root = checker.root;
  read_records_file(checker, dataset.file, dataset.format, &dataset.records, options.limit);
  if (!checker.problems.empty()) throw_first(checker.problems, dir);
  if (dataset.records.empty() && !options.allow_empty) {
    throw DataError(dataset.file.string() + ": the " + split +
                    " split has no records; fix: pick a split with records, or generate a larger world "
                    "(mike data synth --entities N)");
  }
  return dataset;
}

std::vector<Problem> validate_dataset(const fs::path& dir, const std::string& format, const LoadOptions& options) {
  DatasetFormat kind = parse_dataset_format(format);
  fs::path root = fs::is_regular_file(dir) ? dir.parent_path() : dir;
  if (root.empty()) root = ".";
  if (!fs::is_directory(root)) {
    return {{dir.string(), 0, "", "dataset folder does not exist",
             "fix: pass a dataset folder, or create one with `mike data synth --out " + dir.string() + "`"}};
  }
  Checker checker(root, options);
  if (kind == DatasetFormat::kMike) {
    for (const char* split : {"train", "dev", "test"}) {
      read_records_file(checker, dir / (std::string(split) + ".jsonl"), kind, nullptr, 0);
    }
    try {
      (void)load_world(dir);
    } catch (const DataError& e) {
      checker.add("", 0, "", e.what(), "");
    }
    if (fs::exists(dir / "pretrain.jsonl")) read_pretrain_file(checker, dir / "pretrain.jsonl", kPretrainKinds, nullptr);
    if (fs::exists(dir / "controls.jsonl")) read_pretrain_file(checker, dir / "controls.jsonl", kControlKinds, nullptr);
  } else if (fs::is_regular_file(dir)) {
    read_records_file(checker, dir, kind, nullptr, 0);
  } else {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
      auto ext = entry.path().extension();
      if (entry.is_regular_file() && (ext == ".json" || ext == ".jsonl")) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
      checker.add(dir.string(), 0, "", "no .json or .jsonl files found",
                  "fix: pass the folder (or file) holding the " + format + " JSON files");
    }
    for (const auto& file : files) read_records_file(checker, file, kind, nullptr, 0);
  }
  return checker.problems;
}

std::vector<PretrainRecord> load_pretrain_corpus(const fs::path& dir, const LoadOptions& options) {
  Checker checker(dir, options);
  std::vector<PretrainRecord> records;
  read_pretrain_file(checker, dir / "pretrain.jsonl", kPretrainKinds, &records);
  if (!checker.problems.empty()) throw_first(checker.problems, dir);
  return records;
}

std::vector<PretrainRecord> load_pretrain_controls(const fs::path& dir, const LoadOptions& options) {
  std::vector<PretrainRecord> records;
  if (!fs::exists(dir / "controls.jsonl")) return records;
  Checker checker(dir, options);
  read_pretrain_file(checker, dir / "controls.jsonl", kControlKinds, &records);
  if (!checker.problems.empty()) throw_first(checker.problems, dir);
  return records;
}

}  // namespace mike::data
