#pragma once
// Fitting trained editors (MEND, SERAC, KE) before a run, and the cache of
// their fits (DESIGN.md "Core interfaces": Editor::fit).
//
// The training set is the dataset's train split as TrainingEdits: each
// record's edit, its generality probes (rephrased question, other photos) in
// scope, and its locality probes out of scope, minus any locality probe the
// evaluated split also uses, so no editor is trained to keep exactly the
// outputs T-Loc / M-Loc later measure.
//
// A fit is cached as one safetensors file,
//   $MIKE_CACHE (default ~/.cache/mike)/fit/<editor>-<key>.safetensors,
// whose key hashes the editor plugin and version, its composed config, the
// seed, every parameter of the model (so another checkpoint or pretraining
// never reuses it) and every byte of the training set (prompts, targets,
// image pixels). It is written atomically (a temporary file renamed into
// place), so a fit killed half-way leaves no cache entry and the next run
// fits again from the start; two jobs fitting the same key at once each
// write the same deterministic file.
#include <filesystem>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "mike/config.h"
#include "mike/editor.h"
#include "run/evaluator.h"
#include "run/probes.h"

namespace mike {

struct FitRequest {
  std::filesystem::path data_dir;  // the run's dataset folder
  std::string format = "mike";     // its format (data.format)
  data::LoadOptions load;          // as the run loads it (limit is ignored: the whole train split)
  Task task = Task::kVna;
  std::string igen = "other_view";
  std::string editor_plugin;   // e.g. "mend"
  std::string editor_version;  // the plugin's version
  Config editor_config;        // the composed `editor` section
  std::uint64_t seed = 0;      // root `seed`
  bool force = false;          // refit even when the cache holds this fit
  bool progress = true;        // progress bar on stderr
};

struct FitOutcome {
  bool fitted = false;      // false: the editor needs no fit
  bool from_cache = false;  // loaded instead of trained
  std::filesystem::path file;
  std::size_t train_edits = 0;
  std::size_t dropped_locality = 0;  // train locality probes skipped because the evaluated split uses them
  double seconds = 0.0;              // training (or loading) wall time
};

// The training set of a trained editor, from `train` records (see above).
// `evaluated` are the records the run edits; their locality probes are kept
// out of the training set, and `dropped` counts those removed.
std::vector<TrainingEdit> training_edits(const std::vector<data::EditRecord>& train,
                                         const std::vector<data::EditRecord>& evaluated, Task task,
                                         const std::string& igen, Evaluator& evaluator, std::size_t& dropped);

// Cache key of a fit (hex), see above.
std::string fit_key(const FitRequest& request, Model& model, const std::vector<TrainingEdit>& train);

// Fits `editor` on the train split of request.data_dir, or loads its cached
// fit; does nothing (and reads no data) for an editor that needs no fit.
// `evaluated` is the split the run edits (never the one fitted on). A
// needs-fit editor without a separate train split, and a cache file that does
// not read back, are errors naming the file and the fix; errors inside the
// editor are labelled `editor_label`.
FitOutcome fit_editor(const FitRequest& request, Editor& editor, const std::string& editor_label, Model& model,
                      const data::Dataset& evaluated, Evaluator& evaluator);

}  // namespace mike
