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

}  // namespace mike
