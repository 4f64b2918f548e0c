#pragma once
// One experiment job: the edit/evaluate run of a composed config, written into
// its job directory. Launchers (local, subprocess workers, Slurm) call this;
// the implementation is the shared runner loop of issue #7.
#include <filesystem>
#include <string>
#include <vector>

#include "mike/config.h"

namespace mike {

struct JobContext {
  std::filesystem::path job_dir;  // exists; holds config.yaml, status, mike.log, run.h5, summary.json
  int job_index = 0;              // index in the sweep (0 for a single run)
  std::vector<std::string> plugin_paths;  // --plugin-path values, searched before the defaults
};

// Runs the job; throws mike::Error (or another exception) on failure. A
// run.h5 already in job_dir (a killed or failed earlier attempt) is
// continued, not overwritten: complete edits are kept and skipped.
void run_experiment(const Config& config, const JobContext& context);

struct FitOutcome;  // run/editor_fit.h (kept out of this header: it pulls in LibTorch)

// `mike fit`: sets up the job `config` describes (data, model, editor) and
// fits its editor, or finds the fit in the cache (force: fit again); runs no
// edit. The outcome says fitted = false for an editor that needs no fit.
FitOutcome fit_experiment_editor(const Config& config, const std::vector<std::string>& plugin_paths, bool force);

}  // namespace mike
