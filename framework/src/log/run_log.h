#pragma once
// run.h5 — the HDF5 log of one run (layout in DESIGN.md "HDF5 run log").
//
//   /                      attributes: mike version, git, config, overrides, plugins, host, times, status
//   /edits/<column>        one row per completed edit (record_id, entity, step, target, wall_time_s,
//                          and stats/<name> for each editor statistic)
//   /metrics/<name>/<col>  one row per evaluated sample: edit, checkpoint, record_id, pre, post
//   /weights/<param>/      delta [n, ...shape] (float32, uncompressed: dense deltas do not shrink) and edit [n]
//   /activations/<tap>/    values [rows, width] (float32, shuffle+deflate) and edit, sample, position [rows]
//
// A run is a sequence of units, one per edit. Everything a unit produces is
// appended first and its /edits row last, then the file is flushed: so the
// /edits row count is the number of complete units, and on resume every other
// table is cut back to rows whose `edit` index is below it. All 1-D columns
// are chunked and extendable; nothing is rewritten in place.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mike {

class RunJournal;

struct EditRow {
  std::string record_id;
  std::string entity;
  std::int64_t step = 0;
  std::string target;
  double wall_time_s = 0.0;
  std::map<std::string, double> stats;  // editor statistics; a new name becomes a new column (earlier rows NaN)
};

struct MetricRow {
  std::int64_t edit = 0;        // index of the unit (edit) after which this was evaluated
  std::int64_t checkpoint = 0;  // number of edits applied when evaluated (sequential), else 1
  std::string record_id;
  double pre = 0.0;
  double post = 0.0;
};

// One greedy generation of a probe sample, before and after the edit: what
// the exact-match and caption metrics judged, kept so that a reader (and
// `mike human export`, which rates ELC captions) sees the words themselves.
struct GenerationRow {
  std::int64_t edit = 0;        // as MetricRow
  std::int64_t checkpoint = 0;  // as MetricRow
  std::string record_id;
  std::int64_t sample = 0;  // the sample's index among its record's probe samples (I-Gen has several)
  std::string image;        // the probe's image path as the run read it ("" for text-only probes)
  std::string prompt;
  std::string answer;      // what the generation must say (exact match / ELC mention)
  std::string references;  // ELC reference captions, one per line ("" for other tasks)
  std::string pre, post;   // the unedited and the edited model's generation
};

class RunLog {
 public:
  // Creates `file` (fails if it exists). It appears only with its structure
  // complete (built as `<file>.creating`, then linked into place).
  static std::unique_ptr<RunLog> create(const std::filesystem::path& file);
  // Opens an existing log to continue it: every table is cut back to the
  // complete units. A log whose writer was killed (its `<file>.writing`
  // marker is still there) is first rebuilt from `<file>.base` and
  // `<file>.journal` (run_journal.h), keeping the killed file as
  // `<file>.killed`. Throws a clear error if it is unreadable.
  static std::unique_ptr<RunLog> resume(const std::filesystem::path& file);
  // Opens a log for reading only (`mike report`): nothing is cut back or
  // written; writes throw. Throws a clear error if the file is unreadable
  // or a writer has it (or was killed with it) open.
  static std::unique_ptr<RunLog> open_read_only(const std::filesystem::path& file);
  ~RunLog();
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;

  void set_attribute(const std::string& name, const std::string& value);
  std::string attribute(const std::string& name) const;  // "" if absent

  // Number of complete units (rows in /edits).
  std::int64_t edit_count() const { return edits_; }

  void append_metric(const std::string& name, const MetricRow& row);
  // Rows of `/generations/<probe>` (one call per evaluation and probe).
  void append_generations(const std::string& probe, const std::vector<GenerationRow>& rows);
  // `shape` excludes the leading row dimension; `data` holds product(shape) floats.
  void append_weight_delta(const std::string& param, std::int64_t edit, const std::vector<std::int64_t>& shape,
                           const float* data);
  // `rows` activation vectors of `width` floats, one per (sample, position).
  void append_activations(const std::string& tap, std::int64_t edit, std::int64_t sample,
                          const std::vector<std::int64_t>& positions, std::int64_t width, const float* data);
  // Closes the unit: appends its /edits row(s) and flushes the file to disk.
  // A batch edit commits all its rows at once, so a unit is never half-committed.
  void commit_edits(const std::vector<EditRow>& rows);
  void commit_edit(const EditRow& row) { commit_edits({row}); }

  // Per-record metric values already logged (for summaries after a resume).
  std::vector<MetricRow> read_metric(const std::string& name) const;
  std::vector<std::string> metric_names() const;
  std::vector<GenerationRow> read_generations(const std::string& probe) const;
  std::vector<std::string> generation_probes() const;  // empty for a log written before generations were kept
  std::int64_t weight_rows(const std::string& param) const;

  void flush();

  // Wall seconds spent inside this object's writes and flushes so far (the
  // logging overhead a run reports in summary.json).
  double seconds_writing() const { return seconds_writing_; }

 private:
  class Timer;
  explicit RunLog(std::int64_t file_id);
  // A new file with the empty tables every log has.
  static std::unique_ptr<RunLog> create_structure(const std::filesystem::path& file);
  // Replaces the run.h5 of a killed writer by .base + its journal's commits.
  static void rebuild_killed(const std::filesystem::path& file);
  // open_read_only without the check for a writer's marker.
  static std::unique_ptr<RunLog> open_checked(const std::filesystem::path& file);
  struct Columns;
  std::filesystem::path path_;  // writers only: run.h5, beside which .writing/.journal/.base live
  std::unique_ptr<RunJournal> journal_;
  std::int64_t file_;
  std::int64_t edits_ = 0;
  bool read_only_ = false;
  double seconds_writing_ = 0.0;
  std::unique_ptr<Columns> columns_;
};

}  // namespace mike
