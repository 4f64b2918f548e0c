#include "launch/job_runner.h"

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <fstream>

#include "config/config_impl.h"
#include "launch/interrupt.h"
#include "log/logging.h"
#include "mike/error.h"
#include "system/text_file.h"

namespace fs = std::filesystem;

namespace mike {
namespace {

// Job files end with a newline (to_yaml() and the overrides list may not).
void write_text(const fs::path& path, const std::string& text) {
  write_text_file(path, !text.empty() && text.back() != '\n' ? text + "\n" : text);
}

constexpr int kLogTailLines = 20;

}  // namespace

void prepare_job_dir(const fs::path& job_dir, const Config& config, const std::vector<std::string>& overrides) {
  std::error_code error;
  fs::create_directories(job_dir, error);
  if (error) throw Error("cannot create job directory " + job_dir.string() + ": " + error.message());
  write_text(job_dir / kJobConfigFile, config.to_yaml());
  YAML::Emitter list;
  list << YAML::BeginSeq;
  for (const std::string& item : overrides) list << item;
  list << YAML::EndSeq;
  write_text(job_dir / kJobOverridesFile, list.c_str());
  write_job_status(job_dir, JobStatus{});
}

Config load_job_config(const fs::path& job_dir) {
  fs::path path = job_dir / kJobConfigFile;
  if (!fs::exists(path))
    throw ConfigError("job directory " + job_dir.string() + " has no " + kJobConfigFile +
                      "; pass a directory made by `mike run` (multirun/<date>/<time>/<n>)");
  return Config::from_file(path.string());
}

JobStatus run_job_in_process(const Config& config, const JobContext& context, const JobFunction& body) {
  fs::path log_path = context.job_dir / kJobLogFile;
  JobStatus status;
  status.state = JobState::running;
  write_job_status(context.job_dir, status);
  add_log_file(log_path.string());
  spdlog::info("job {} started in {}", context.job_index, context.job_dir.string());
  try {
    body(config, context);
    status.state = JobState::done;
    status.reason.clear();
    spdlog::info("job {} done", context.job_index);
  } catch (const JobInterrupted& e) {
    status.state = JobState::interrupted;
    status.reason = e.what();
    spdlog::warn("job {} interrupted", context.job_index);
  } catch (const Error& e) {
    status.state = JobState::failed;
    status.reason = e.what();
    status.exit_code = e.exit_code();
    spdlog::error("job {} failed: {}", context.job_index, e.what());
  } catch (const std::exception& e) {
    status.state = JobState::failed;
    status.reason = e.what();
    spdlog::error("job {} failed: {}", context.job_index, e.what());
  } catch (...) {
    status.state = JobState::failed;
    status.reason = "the job threw an exception that is not a std::exception";
    spdlog::error("job {} failed: {}", context.job_index, status.reason);
  }
  remove_log_file(log_path.string());
  if (status.state == JobState::failed) status.log_tail = tail_lines(log_path, kLogTailLines);
  write_job_status(context.job_dir, status);
  return status;
}

}  // namespace mike
