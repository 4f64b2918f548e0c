#include "launch/slurm_launcher.h"

#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "config/config_impl.h"
#include "launch/interrupt.h"
#include "mike/error.h"

namespace fs = std::filesystem;

namespace mike {
namespace {

struct CommandOutput {
  int exit_code = -1;
  std::string text;  // stdout and stderr
};

CommandOutput run_shell(const std::string& command) {
  CommandOutput result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.text.append(buffer, n);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string require_tool(const std::string& tool) {
  std::string path = find_on_path(tool);
  if (path.empty())
    throw UsageError("launcher=slurm needs '" + tool + "', which is not on PATH; install the Debian package "
                     "slurm-client (apt-get install slurm-client) on a machine that can reach your cluster, "
                     "or use launcher=local");
  return path;
}

std::string optional_string(const Config& config, const char* key, const std::string& fallback) {
  if (!config.has(key)) return fallback;
  return config.get_or<std::string>(key, "");
}

}  // namespace

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string find_on_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t colon = dirs.find(':', start);
    std::string dir = dirs.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return "";
}

SlurmOptions slurm_options_from(const Config& launcher) {
  SlurmOptions options;
  options.partition = optional_string(launcher, "partition", options.partition);
  options.time = optional_string(launcher, "time", options.time);
  options.mem = optional_string(launcher, "mem", options.mem);
  // Both go into the sbatch script as numbers: a negative or absurd one
  // would be a script Slurm rejects (or an int overflow) long after the sweep
  // was prepared.
  options.cpus_per_task = static_cast<int>(get_int_in_range(launcher, "cpus_per_task", options.cpus_per_task, 1, 4096,
                                                            "CPUs of each array task (--cpus-per-task)"));
  options.max_parallel = static_cast<int>(get_int_in_range(launcher, "max_parallel", options.max_parallel, 0, 1000000,
                                                           "array tasks at once (--array=...%N); 0 = no limit"));
  options.extra_directives = launcher.get_or<std::vector<std::string>>("sbatch_args", {});
  options.sbatch = launcher.get_or<std::string>("sbatch", options.sbatch);
  options.squeue = launcher.get_or<std::string>("squeue", options.squeue);
  return options;
}

std::string slurm_array_spec(const std::vector<std::size_t>& indices, int max_parallel) {
  std::string spec;
  for (std::size_t i = 0; i < indices.size();) {
    std::size_t j = i;
    while (j + 1 < indices.size() && indices[j + 1] == indices[j] + 1) ++j;
    spec += (spec.empty() ? "" : ",") + std::to_string(indices[i]);
    if (j > i) spec += "-" + std::to_string(indices[j]);
    i = j + 1;
  }
  if (max_parallel > 0) spec += "%" + std::to_string(max_parallel);
  return spec;
}

fs::path write_sbatch_script(const fs::path& sweep_dir, const std::vector<std::size_t>& indices,
                             const SlurmOptions& options) {
  fs::path sweep = fs::absolute(sweep_dir);
  fs::path slurm_dir = sweep / "slurm";
  fs::create_directories(slurm_dir);
  std::string worker;
  for (const std::string& part : options.worker_prefix) worker += shell_quote(part) + " ";
  std::string script = "#!/bin/bash\n";
  script += "#SBATCH --job-name=" + options.job_name + "\n";
  script += "#SBATCH --array=" + slurm_array_spec(indices, options.max_parallel) + "\n";
  script += "#SBATCH --output=" + (slurm_dir / "%A_%a.out").string() + "\n";
  script += "#SBATCH --cpus-per-task=" + std::to_string(options.cpus_per_task) + "\n";
  if (!options.partition.empty()) script += "#SBATCH --partition=" + options.partition + "\n";
  if (!options.time.empty()) script += "#SBATCH --time=" + options.time + "\n";
  if (!options.mem.empty()) script += "#SBATCH --mem=" + options.mem + "\n";
  for (const std::string& directive : options.extra_directives) script += "#SBATCH " + directive + "\n";
  script +=
      "# Each array task runs one pre-composed job of the sweep; a crash (signal,\n"
      "# non-zero exit) is written to the job's status file by --record-exit.\n"
      "job_dir=" + shell_quote(sweep.string()) + "/\"${SLURM_ARRAY_TASK_ID}\"\n" +
      worker + "--job-dir \"$job_dir\"\n"
      "rc=$?\n"
      "if [ \"$rc\" -ne 0 ]; then " + worker + "--job-dir \"$job_dir\" --record-exit \"$rc\"; fi\n"
      "exit \"$rc\"\n";
  fs::path path = slurm_dir / "submit.sbatch";
  std::ofstream out(path, std::ios::trunc);
  out << script;
  if (!out) throw Error("cannot write " + path.string());
  return path;
}

std::string submit_sbatch(const fs::path& sweep_dir, const fs::path& script, const SlurmOptions& options) {
  std::string sbatch = require_tool(options.sbatch);
  CommandOutput out = run_shell(shell_quote(sbatch) + " --parsable " + shell_quote(script.string()));
  if (out.exit_code != 0)
    throw Error("sbatch refused the sweep's job array (exit code " + std::to_string(out.exit_code) + "): " + out.text +
                "the script is " + script.string() + "; check partition, time and mem under launcher.*", 1);
  std::string job_id = out.text.substr(0, out.text.find_first_of(";\n"));
  std::ofstream(fs::path(sweep_dir) / "slurm" / "job_id") << job_id << "\n";
  return job_id;
}

std::string slurm_queue_state(const std::string& job_id, const SlurmOptions& options) {
  std::string squeue = find_on_path(options.squeue);
  if (squeue.empty()) return "";
  CommandOutput out = run_shell(shell_quote(squeue) + " -h -r -j " + shell_quote(job_id) + " -o '%i %T %R'");
  return out.exit_code == 0 ? out.text : "";
}

void wait_for_slurm_job(const std::string& job_id, const SlurmOptions& options) {
  std::string squeue = require_tool(options.squeue);
  while (true) {
    CommandOutput out = run_shell(shell_quote(squeue) + " -h -j " + shell_quote(job_id) + " -o %i");
    // squeue fails for a job it no longer knows about; both mean "ended".
    if (out.exit_code != 0 || out.text.find_first_not_of(" \n") == std::string::npos) return;
    if (stop_requested())
      throw Error("stopped waiting for Slurm job " + job_id + " (its tasks keep running; `scancel " + job_id +
                      "` stops them)", 130);
    std::this_thread::sleep_for(options.poll_interval);
  }
}

}  // namespace mike
