#pragma once
// Layout of run and sweep directories (README "Configs, overrides and sweeps"):
//   outputs/<YYYY-MM-DD>/<HH-MM-SS>/           a single run (a job directory)
//   multirun/<YYYY-MM-DD>/<HH-MM-SS>/          a sweep: multirun.yaml + one
//     <n>/                                     job directory per job
// multirun.yaml records how the sweep was made and every job's overrides, so
// `--resume` and Slurm array tasks work from the directory alone.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "launch/job_status.h"

namespace mike {

inline constexpr const char* kSweepManifestFile = "multirun.yaml";

struct SweepManifest {
  std::string config_dir;  // the config folders it was composed from, in search order, ":"-separated
  std::string config_name;
  std::vector<std::string> arguments;             // the overrides as typed (sweep syntax)
  std::vector<std::vector<std::string>> jobs;     // per job, its overrides
  std::string launcher;                           // local | slurm
};

void write_sweep_manifest(const std::filesystem::path& sweep_dir, const SweepManifest& manifest);
// Throws ConfigError when `sweep_dir` holds no readable multirun.yaml.
SweepManifest read_sweep_manifest(const std::filesystem::path& sweep_dir);
std::filesystem::path sweep_job_dir(const std::filesystem::path& sweep_dir, std::size_t index);

// What in `dir` is a result that a new `mike run` must not write over, as a
// list of paths ("" when there is none): a run's run.h5 or summary.json, a
// sweep's multirun.yaml, or a job folder's run.h5. Config, status and log
// files alone are not results (a run stopped before its first edit leaves
// only those), so starting again into such a folder is allowed.
std::string existing_results(const std::filesystem::path& dir);

// <root>/<YYYY-MM-DD>/<HH-MM-SS> (local time); "_2", "_3"... if it already exists.
std::filesystem::path timestamped_dir(const std::filesystem::path& root);

// Jobs of a sweep that a resume must run (every job not finished); marks the
// others in `skipped` (sized to the job count). Their status goes back to
// pending. `finished` says whether a job dir is done; by default its
// status.yaml alone (`mike run` also asks for its outputs).
std::vector<std::size_t> jobs_to_resume(const std::filesystem::path& sweep_dir, const SweepManifest& manifest,
                                        std::vector<bool>& skipped,
                                        const std::function<bool(const std::filesystem::path&)>& finished = {});

struct SweepCounts {
  std::size_t done = 0, failed = 0, interrupted = 0, pending = 0, running = 0, skipped = 0;
};

// The per-job table (index, state, overrides, reason) and a totals line.
// `skipped` are jobs a resume did not re-run because they were already done.
std::string format_sweep_summary(const std::filesystem::path& sweep_dir, const SweepManifest& manifest,
                                 const std::vector<bool>& skipped, SweepCounts& counts);
// 0 when every job is done; 130 when any was interrupted; 1 otherwise.
int sweep_exit_code(const SweepCounts& counts);

}  // namespace mike
