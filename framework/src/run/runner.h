#pragma once
// The one edit/evaluate loop every editor runs through (DESIGN.md, STYLE.md
// "write once"). Protocols:
//   single      per record: edit, evaluate, restore (restore checked bitwise:
//               every parameter's hash against the hash taken before the
//               edit; for wrapping editors also one probe re-scored against
//               its pre-edit score)
//   batch       k records edited at once, evaluated, restored; when k does not
//               divide n the last batch has the n mod k records left over
//   sequential  edits accumulate; all edited records evaluated at checkpoints
//   multi_step  per record: edit with image 1, 2, ... S on top of each other,
//               evaluating after every step; then restore
// Pre-edit outputs are computed once for all records (batched) and reused
// for every locality comparison. Each edit is a unit of run.h5 (see
// log/run_log.h); resuming skips complete units and, for the protocols whose
// model state accumulates, replays their edits without evaluating.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "log/run_log.h"
#include "mike/editor.h"
#include "mike/metric.h"
#include "run/evaluator.h"
#include "run/parameter_hashes.h"
#include "run/probes.h"

namespace mike {

enum class Protocol { kSingle, kBatch, kSequential, kMultiStep };
Protocol parse_protocol(const std::string& name);  // throws ConfigError listing the names
const char* protocol_name(Protocol protocol);

struct RunnerOptions {
  Task task = Task::kVna;
  std::string igen = "augmented";
  Protocol protocol = Protocol::kSingle;
  int batch_edits = 1;                  // batch: records per edit
  std::vector<int> checkpoints;         // sequential: evaluate after these many edits (and after the last)
  int steps = 4;                        // multi_step: images per entity
  std::vector<std::string> log_taps;    // activations to record during post-edit scoring
  bool log_weights = true;              // record weight deltas of parametric edits
  bool log_generations = true;          // record every probe's greedy generation, pre and post (/generations)
  // probe -> names of the metrics (keys of Plugins::metrics) applied to its samples
  std::map<std::string, std::vector<std::string>> probe_metrics;
};

struct Plugins {
  Model* model = nullptr;
  Editor* editor = nullptr;
  std::string model_label, editor_label;             // "model 'llava'" for error messages
  std::map<std::string, std::shared_ptr<Metric>> metrics;  // by metric name (metric.<name> in the config)
};

// Where a run's time went (seconds), reported in summary.json.
struct RunTiming {
  double pre_eval_s = 0.0;   // pre-edit outputs of every record (once)
  double edit_s = 0.0;       // inside Editor::edit and Editor::prepare_independent_edits
  double prepare_s = 0.0;    // of which in prepare_independent_edits (batched ahead)
  double post_eval_s = 0.0;  // post-edit score()+generate() of the probes
  double restore_s = 0.0;    // restore + its bitwise check
  std::int64_t pre_eval_samples = 0;
};

class Runner {
 public:
  Runner(Plugins plugins, std::vector<data::EditRecord> records, RunnerOptions options, Evaluator& evaluator,
         RunLog& log);
  // Runs every unit not yet in the log.
  void run();
  // Total number of units (edits) the protocol makes for these records.
  std::int64_t total_edits() const;
  const RunTiming& timing() const { return timing_; }

 private:
  struct Unit;
  std::vector<EditRequest> requests(std::size_t first, std::size_t count, int step);
  std::unique_ptr<EditedModel> apply_edit(Model& model, const std::vector<EditRequest>& batch);
  void evaluate_records(Model& model, const std::vector<std::size_t>& records, std::int64_t edit,
                        std::int64_t checkpoint);
  void log_weights(const EditedModel& edited, Model& model, std::int64_t edit);
  // Undoes `edited`; `before` are the parameter hashes of the state the edit
  // was applied to, and `back_to_original` says whether that state is the
  // unedited model (then a wrapping editor's restore is also checked by
  // re-scoring the restore probe).
  void restore_checked(EditedModel& edited, Model& model, const ParameterHashes& before, bool back_to_original);
  ScoreResult score_restore_probe(Model& model);
  void commit(const std::vector<EditRequest>& batch, double seconds, const EditedModel& edited);
  void compute_pre_outputs();

  Plugins plugins_;
  std::vector<data::EditRecord> records_;
  RunnerOptions options_;
  Evaluator& evaluator_;
  RunLog& log_;
  std::vector<std::vector<ProbeSample>> samples_;   // per record
  std::vector<std::vector<SampleOutput>> pre_;      // per record, per sample
  ParameterHashes original_hashes_;                 // every parameter before the first edit
  ScoreResult restore_probe_pre_;                   // the restore probe scored alone before any edit
  RunTiming timing_;
};

}  // namespace mike
