#pragma once
// One job in a job directory: its files (config.yaml, overrides.yaml,
// status.yaml, mike.log) and running its body in this process.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "launch/job_status.h"
#include "mike/config.h"
#include "run/experiment.h"

namespace mike {

// The body of a job; the product uses run_experiment, tests inject their own.
using JobFunction = std::function<void(const Config&, const JobContext&)>;

inline constexpr const char* kJobConfigFile = "config.yaml";
inline constexpr const char* kJobOverridesFile = "overrides.yaml";
inline constexpr const char* kJobLogFile = "mike.log";
// Written by run_experiment once the last edit is in run.h5: a run is finished
// when it exists, whatever status.yaml says.
inline constexpr const char* kRunSummaryFile = "summary.json";
// stdout/stderr of a worker subprocess (crash messages land here).
inline constexpr const char* kWorkerOutputFile = "worker.log";

// Creates `job_dir` with the composed config, the overrides that made it and
// a pending status.
void prepare_job_dir(const std::filesystem::path& job_dir, const Config& config,
                     const std::vector<std::string>& overrides);
// The composed config a job directory holds (errors name the file:line:col).
Config load_job_config(const std::filesystem::path& job_dir);

// Runs `body` here: status running, logs also to <job_dir>/mike.log, then
// done, failed (the error and the log tail) or interrupted (JobInterrupted).
// Failures are recorded, not thrown. Returns the final status.
JobStatus run_job_in_process(const Config& config, const JobContext& context, const JobFunction& body);

}  // namespace mike
