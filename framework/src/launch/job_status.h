#pragma once
// The status file of a job directory (`status.yaml`): what state the job is
// in and, when it did not finish, why. Launchers, workers and
// `mike sweep status` all read and write it through these functions.
#include <filesystem>
#include <optional>
#include <string>

namespace mike {

enum class JobState { pending, running, done, failed, interrupted };
const char* to_string(JobState state);

struct JobStatus {
  JobState state = JobState::pending;
  std::string reason;             // why failed/interrupted: the error, "exit code 3", "killed by signal 11 (SIGSEGV)"
  std::optional<int> exit_code;   // of a worker process, when known
  std::optional<int> signal;      // that killed a worker process, when known
  std::string log_tail;           // last lines of the job's logs, for failures
  std::string updated;            // UTC time of the last write, ISO 8601
};

inline constexpr const char* kStatusFileName = "status.yaml";

// Written atomically (temp file + rename) so readers never see half a file.
void write_job_status(const std::filesystem::path& job_dir, JobStatus status);
// A missing file reads as pending; an unreadable one throws ConfigError naming it.
JobStatus read_job_status(const std::filesystem::path& job_dir);
// True for done, failed and interrupted.
bool is_final(JobState state);

// The last `lines` lines of a text file ("" if absent).
std::string tail_lines(const std::filesystem::path& file, int lines);
// "killed by signal 11 (SIGSEGV)".
std::string describe_signal(int signal);

}  // namespace mike
