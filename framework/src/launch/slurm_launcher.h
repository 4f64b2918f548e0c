#pragma once
// launcher=slurm: one sbatch job array per sweep. The script
// (<sweep>/slurm/submit.sbatch) asks for --array=<jobs>%max_parallel with the
// partition, time, mem and cpus-per-task of the `launcher` config; each array
// task runs `mike run --job-dir <sweep>/<task id>` on the pre-composed job and
// records a crash (non-zero exit) in the job's status file.
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "mike/config.h"

namespace mike {

struct SlurmOptions {
  std::string job_name = "mike";
  std::string partition;                 // empty = the cluster's default
  std::string time = "01:00:00";         // empty = no --time
  std::string mem = "4G";                // empty = no --mem
  int cpus_per_task = 1;
  int max_parallel = 0;                  // 0 = no limit
  std::vector<std::string> extra_directives;  // more "#SBATCH ..." options, e.g. "--qos=short"
  std::string sbatch = "sbatch";
  std::string squeue = "squeue";
  std::chrono::milliseconds poll_interval{1000};
  // The worker command up to (not including) "--job-dir": mike exe, options, "run".
  std::vector<std::string> worker_prefix;
};

// Reads the `launcher` node (partition, time, mem, cpus_per_task, max_parallel, sbatch_args).
SlurmOptions slurm_options_from(const Config& launcher);

// "0-3%2", "1,3-5": the --array value for these job indices.
std::string slurm_array_spec(const std::vector<std::size_t>& indices, int max_parallel);
// Writes <sweep>/slurm/submit.sbatch and returns its path.
std::filesystem::path write_sbatch_script(const std::filesystem::path& sweep_dir,
                                          const std::vector<std::size_t>& indices, const SlurmOptions& options);
// Submits the script; returns the Slurm job id (also saved in <sweep>/slurm/job_id).
// A missing sbatch is a UsageError naming the package to install.
std::string submit_sbatch(const std::filesystem::path& sweep_dir, const std::filesystem::path& script,
                          const SlurmOptions& options);
// Blocks until Slurm no longer lists the job (all array tasks ended).
void wait_for_slurm_job(const std::string& job_id, const SlurmOptions& options);
// squeue's view of the job's tasks ("" when squeue is absent or shows none).
std::string slurm_queue_state(const std::string& job_id, const SlurmOptions& options);

// The first `name` on PATH (or `name` itself if it has a '/'), or "".
std::string find_on_path(const std::string& name);
// `text` quoted for /bin/sh.
std::string shell_quote(const std::string& text);

}  // namespace mike
