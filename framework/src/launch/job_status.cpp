#include "launch/job_status.h"

#include <yaml-cpp/yaml.h>

#include <csignal>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>

#include "config/config_impl.h"
#include "mike/error.h"

namespace fs = std::filesystem;

namespace mike {
namespace {

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&now, &parts);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return buffer;
}

}  // namespace

const char* to_string(JobState state) {
  switch (state) {
    case JobState::pending: return "pending";
    case JobState::running: return "running";
    case JobState::done: return "done";
    case JobState::failed: return "failed";
    case JobState::interrupted: return "interrupted";
  }
  return "pending";
}

bool is_final(JobState state) {
  return state == JobState::done || state == JobState::failed || state == JobState::interrupted;
}

void write_job_status(const fs::path& job_dir, JobStatus status) {
  status.updated = utc_now();
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "state" << YAML::Value << to_string(status.state);
  if (!status.reason.empty()) out << YAML::Key << "reason" << YAML::Value << status.reason;
  if (status.exit_code) out << YAML::Key << "exit_code" << YAML::Value << *status.exit_code;
  if (status.signal) out << YAML::Key << "signal" << YAML::Value << *status.signal;
  out << YAML::Key << "updated" << YAML::Value << status.updated;
  if (!status.log_tail.empty()) out << YAML::Key << "log_tail" << YAML::Value << YAML::Literal << status.log_tail;
  out << YAML::EndMap;
  fs::path final_path = job_dir / kStatusFileName;
  fs::path temp_path = job_dir / (std::string(kStatusFileName) + ".tmp");
  {
    std::ofstream file(temp_path, std::ios::trunc);
    file << out.c_str() << "\n";
    if (!file) throw Error("cannot write " + temp_path.string() + ": " + std::strerror(errno));
  }
  fs::rename(temp_path, final_path);
}

JobStatus read_job_status(const fs::path& job_dir) {
  JobStatus status;
  fs::path path = job_dir / kStatusFileName;
  if (!fs::exists(path)) return status;
  YAML::Node node = load_yaml_file(path.string());
  std::string state = node["state"] ? node["state"].as<std::string>() : "";
  bool known = false;
  for (JobState candidate : {JobState::pending, JobState::running, JobState::done, JobState::failed,
                             JobState::interrupted}) {
    if (state == to_string(candidate)) {
      status.state = candidate;
      known = true;
    }
  }
  if (!known)
    throw ConfigError("status file " + path.string() + " has state '" + state +
                      "'; expected pending, running, done, failed or interrupted (delete the file to re-run the job)");
  if (node["reason"]) status.reason = node["reason"].as<std::string>();
  if (node["exit_code"]) status.exit_code = node["exit_code"].as<int>();
  if (node["signal"]) status.signal = node["signal"].as<int>();
  if (node["log_tail"]) status.log_tail = node["log_tail"].as<std::string>();
  if (node["updated"]) status.updated = node["updated"].as<std::string>();
  return status;
}

std::string tail_lines(const fs::path& file, int lines) {
  std::ifstream in(file);
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(line);
    if (static_cast<int>(last.size()) > lines) last.pop_front();
  }
  std::string text;
  for (const std::string& l : last) text += l + "\n";
  return text;
}

std::string describe_signal(int signal) {
  const char* abbreviation = sigabbrev_np(signal);
  return "killed by signal " + std::to_string(signal) +
         (abbreviation ? " (SIG" + std::string(abbreviation) + ")" : std::string());
}

}  // namespace mike
