#pragma once
// mike::data — edit datasets: the record type every protocol consumes, the
// loaders for our JSON-lines format and for MMEdit/VLKEB files, validation
// that reports every problem at once, and the pretraining corpus of the
// synthetic world. The format is documented in docs/dataset.md.
//
// Torch-free: images are paths here; data/image.h decodes them and
// data/image_tensor.h turns them into model input tensors.
#include <filesystem>
#include <string>
#include <vector>

namespace mike::data {

// ELC (entity-level caption): the prompt and the reference captions that name
// and describe the entity.
struct ElcAnnotation {
  std::string prompt;
  std::string rephrase;  // another caption instruction (T-Generality); optional
  std::vector<std::string> references;
};

// CSR (complex-scenario recognition): a scene with several entities; the
// question points at one of them and the answer is its name.
struct CsrItem {
  std::filesystem::path image;
  std::string question;
  std::string answer;
  std::string rephrase;  // the question reworded (CSR T-Generality); optional
};

// CSR's own locality probes: a text-only question and a scene of unrelated,
// known entities with a question about one of them (answers are what the
// model should keep saying).
struct CsrLocality {
  std::string loc;
  std::string loc_ans;
  std::filesystem::path m_loc;
  std::string m_loc_q;
  std::string m_loc_a;
  bool empty() const { return loc.empty() && m_loc.empty(); }
};

// I-Gen held-out images of the edited entity, by variant.
struct IgenImages {
  std::vector<std::filesystem::path> augmented;   // same view, augmented
  std::vector<std::filesystem::path> other_view;  // a different picture of the entity
  std::vector<std::filesystem::path> scene;       // the entity inside a complex scene
  // "augmented" | "other_view" | "scene"; throws ConfigError otherwise.
  const std::vector<std::filesystem::path>& variant(const std::string& name) const;
};

// VLKEB portability question (`port_new`).
struct PortabilityQa {
  std::string question;
  std::string answer;
  std::filesystem::path image;  // empty when the question has no image
};

// One edit request with everything needed to evaluate it. Image paths are
// absolute (resolved against the dataset root). Fields a source format does
// not have are empty (MMEdit/VLKEB have no MIKE fields).
struct EditRecord {
  std::string id;           // unique in its file; importers use "<file stem>-<index>"
  std::string src;          // edit question, e.g. "What is the name of this?"
  std::string alt;          // edit target: the entity name
  std::string pred;         // pre-edit answer if known
  std::string rephrase;     // reworded question (T-Gen)
  std::filesystem::path image;           // edit image (Rel)
  std::filesystem::path image_rephrase;  // another image of the entity (I-Gen, MMEdit style)
  std::string loc;          // text-only locality question (T-Loc)
  std::string loc_ans;
  std::filesystem::path m_loc;  // image of an unrelated, known entity (M-Loc)
  std::string m_loc_q;
  std::string m_loc_a;
  // MIKE fields.
  std::string entity_id;
  std::string category;
  // The entity's edit images, one per multi-step step (images[0] = image).
  // I-Gen images are never among them, so no step edits an image I-Gen probes.
  std::vector<std::filesystem::path> images;
  ElcAnnotation elc;
  std::vector<CsrItem> csr;
  CsrLocality csr_locality;
  IgenImages igen;
  // VLKEB only.
  std::vector<PortabilityQa> port_new;

  std::string origin;  // "<file>:<line>" of the record, for messages
};

enum class DatasetFormat { kMike, kMmedit, kVlkeb };
// "mike" | "mmedit" | "vlkeb"; throws ConfigError naming the accepted values.
DatasetFormat parse_dataset_format(const std::string& name);
const char* format_name(DatasetFormat format);

struct Dataset {
  std::filesystem::path root;  // image paths were resolved against this
  std::filesystem::path file;  // the file the records came from
  std::string split;
  DatasetFormat format = DatasetFormat::kMike;
  std::vector<EditRecord> records;
};

struct LoadOptions {
  // Image paths that resolve outside the dataset root (../, absolute) are
  // refused unless this is set (data.allow_outside_root).
  bool allow_outside_root = false;
  // Check every referenced image exists and decodes (each distinct file once).
  bool check_images = true;
  // Keep only the first `limit` records (0 = all).
  std::size_t limit = 0;
  // load_dataset refuses a split with no records unless this is set (a tiny
  // synthetic world may have empty train/dev splits; validate accepts them).
  bool allow_empty = false;
};

// Loads one split. `dir` is the dataset folder (or, for mmedit/vlkeb, may be
// the JSON file itself). Files looked up in a folder:
//   mike:          <dir>/<split>.jsonl
//   mmedit, vlkeb: <dir>/<split>.json, else <dir>/<split>.jsonl
// Image paths are resolved against `dir` (the file's folder when `dir` is a
// file). Throws DataError (exit 3) on the first problem: "<file>:<line>:
// field '<name>': <what>; <how to fix>".
Dataset load_dataset(const std::filesystem::path& dir, const std::string& split, const std::string& format,
                     const LoadOptions& options = {});

// The file load_dataset() reads for `split` of `dir` (which may not exist).
std::filesystem::path split_path(const std::filesystem::path& dir, const std::string& split, const std::string& format);

// One validation finding.
struct Problem {
  std::string file;
  int line = 0;        // 0 when the problem is about the whole file
  std::string field;   // dotted field path, e.g. "csr[1].image"; empty if none
  std::string message; // what is wrong
  std::string fix;     // how to fix it
  std::string to_string() const;  // "<file>:<line>: field '<field>': <message>; <fix>"
};

// Checks a whole dataset folder in one pass and returns every problem found
// (empty = valid). For the mike format: train/dev/test.jsonl, world.json and
// pretrain.jsonl (when present); for mmedit/vlkeb: every *.json/*.jsonl in
// the folder (or the one file given).
std::vector<Problem> validate_dataset(const std::filesystem::path& dir, const std::string& format,
                                      const LoadOptions& options = {});

// ---- pretraining corpus (<dir>/pretrain.jsonl) --------------------------------
// What a base model learns before editing: naming *known* entities from
// their images (several question paraphrases), attribute/category facts as
// text-only QA (the T-Loc pool), image QA about known entities (the M-Loc
// pool), captions, CSR scenes of known entities, facts stated in the prompt
// ("context"), and text-only facts whose answer is an edit entity's name. It
// never pairs an edit entity's name with an image of it.
struct PretrainRecord {
  // pretrain.jsonl: "name" | "fact" | "category" | "caption" | "context" | "csr"
  // controls.jsonl: "heldout_paraphrase" | "csr_control" | "in_context" | "edit_name_text"
  std::string kind;
  std::filesystem::path image;     // absolute; empty for text-only records
  std::string prompt;
  std::string answer;
  std::string entity_id;           // the entity the record is about (may be empty)
};

// Throws DataError (file:line, field, fix) on a malformed record.
std::vector<PretrainRecord> load_pretrain_corpus(const std::filesystem::path& dir,
                                                 const LoadOptions& options = {});

// <dir>/controls.jsonl: what the pretraining report measures beyond the corpus
// (held-out paraphrases, held-out CSR scenes, reading a fact from the prompt,
// recalling edit names from text). Never trained on. Empty when the file is
// absent (worlds of version < 3, imported datasets).
std::vector<PretrainRecord> load_pretrain_controls(const std::filesystem::path& dir,
                                                   const LoadOptions& options = {});

}  // namespace mike::data
