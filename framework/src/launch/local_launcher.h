#pragma once
// launcher=local: runs a sweep's jobs on this machine, either one after the
// other in this process (workers = 1) or in `workers` subprocesses at once,
// each one `mike run --job-dir <dir>`, so that a crashing plugin (segfault,
// abort) only fails its own job. Every job's outcome lands in its status
// file; failures never stop the other jobs. Ctrl-C stops launching, tells
// running workers to stop (SIGINT, then SIGKILL after a grace period) and
// marks them interrupted.
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "launch/job_runner.h"

namespace mike {

struct LaunchJob {
  std::size_t index = 0;
  std::filesystem::path dir;       // prepared with prepare_job_dir
  std::optional<Config> config;    // in-process runs use it (full origins); else <dir>/config.yaml
};

struct LocalLauncherOptions {
  int workers = 1;
  JobFunction job_function = run_experiment;  // body for in-process runs
  std::vector<std::string> plugin_paths;      // --plugin-path of this invocation, for in-process jobs
  // argv of the worker subprocess for a job (required when workers > 1).
  std::function<std::vector<std::string>(const LaunchJob&)> worker_command;
  std::chrono::milliseconds stop_grace{10000};
};

// Runs `jobs`; returns false when it stopped early because of Ctrl-C/SIGTERM.
bool launch_local(const std::vector<LaunchJob>& jobs, const LocalLauncherOptions& options);

// Turns a worker's wait status into the job's final status, keeping the
// reason a worker wrote itself. `stopping`: we asked it to stop.
JobStatus worker_outcome(const std::filesystem::path& job_dir, int wait_status, bool stopping);

}  // namespace mike
