#include "launch/local_launcher.h"

#include <fcntl.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <deque>
#include <map>
#include <thread>

#include "launch/interrupt.h"
#include "mike/error.h"

extern char** environ;

namespace fs = std::filesystem;

namespace mike {
namespace {

constexpr int kLogTailLines = 20;

struct RunningWorker {
  const LaunchJob* job;
  std::chrono::steady_clock::time_point stop_sent{};
  bool stopping = false;
};

pid_t spawn_worker(const LaunchJob& job, const std::vector<std::string>& argv) {
  if (argv.empty()) throw Error("local launcher: empty worker command for job " + std::to_string(job.index));
  std::string output = (job.dir / kWorkerOutputFile).string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  // Appended, not truncated: after a kill and --resume, what the killed
  // worker printed last (a crash report) is still there.
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int error = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0)
    throw Error("local launcher: cannot start worker '" + argv[0] + "' for job " + std::to_string(job.index) + ": " +
                std::strerror(error));
  return pid;
}

std::string combined_log_tail(const fs::path& job_dir) {
  std::string tail = tail_lines(job_dir / kJobLogFile, kLogTailLines);
  std::string worker = tail_lines(job_dir / kWorkerOutputFile, kLogTailLines);
  if (!worker.empty() && tail.find(worker) == std::string::npos) tail += (tail.empty() ? "" : "--- worker output ---\n") + worker;
  return tail;
}

bool run_in_process(const std::vector<LaunchJob>& jobs, const LocalLauncherOptions& options) {
  for (const LaunchJob& job : jobs) {
    if (stop_requested()) return false;
    JobContext context{job.dir, static_cast<int>(job.index), options.plugin_paths};
    Config config = job.config ? *job.config : load_job_config(job.dir);
    run_job_in_process(config, context, options.job_function);
  }
  return !stop_requested();
}

bool run_workers(const std::vector<LaunchJob>& jobs, const LocalLauncherOptions& options) {
  if (!options.worker_command) throw Error("local launcher: workers > 1 needs a worker command");
  std::deque<const LaunchJob*> queue;
  for (const LaunchJob& job : jobs) queue.push_back(&job);
  std::map<pid_t, RunningWorker> running;
  while (!queue.empty() || !running.empty()) {
    bool stop = stop_requested();
    if (stop) queue.clear();  // jobs not started stay pending for --resume
    while (!stop && !queue.empty() && static_cast<int>(running.size()) < options.workers) {
      const LaunchJob* job = queue.front();
      queue.pop_front();
      JobStatus status;
      status.state = JobState::running;
      write_job_status(job->dir, status);
      pid_t pid = spawn_worker(*job, options.worker_command(*job));
      spdlog::info("job {} started (worker pid {})", job->index, pid);
      running[pid] = RunningWorker{job};
    }
    auto now = std::chrono::steady_clock::now();
    for (auto& [pid, worker] : running) {
      if (stop && !worker.stopping) {
        ::kill(pid, SIGINT);
        worker.stopping = true;
        worker.stop_sent = now;
      } else if (worker.stopping && now - worker.stop_sent > options.stop_grace) {
        ::kill(pid, SIGKILL);
      }
    }
    bool reaped = false;
    for (auto it = running.begin(); it != running.end();) {
      int wait_status = 0;
      pid_t result = ::waitpid(it->first, &wait_status, WNOHANG);
      if (result == it->first || (result < 0 && errno == ECHILD)) {
        JobStatus status = result < 0 ? JobStatus{JobState::failed, "worker vanished (not our child)", {}, {}, {}, {}}
                                      : worker_outcome(it->second.job->dir, wait_status, it->second.stopping);
        write_job_status(it->second.job->dir, status);
        if (status.state == JobState::done) spdlog::info("job {} done", it->second.job->index);
        else spdlog::error("job {} {}: {}", it->second.job->index, to_string(status.state), status.reason);
        it = running.erase(it);
        reaped = true;
      } else {
        ++it;
      }
    }
    if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return !stop_requested();
}

}  // namespace

JobStatus worker_outcome(const fs::path& job_dir, int wait_status, bool stopping) {
  JobStatus written = read_job_status(job_dir);
  JobStatus status;
  if (WIFEXITED(wait_status)) {
    status.exit_code = WEXITSTATUS(wait_status);
    if (*status.exit_code == 0 && !stopping) {
      status.state = JobState::done;
      return status;
    }
    if (*status.exit_code == 0) {
      status.state = written.state == JobState::done ? JobState::done : JobState::interrupted;
      return status;
    }
    status.state = stopping ? JobState::interrupted : JobState::failed;
    // A worker that failed cleanly wrote its own reason; keep it.
    status.reason = written.state == JobState::failed && !written.reason.empty()
                        ? written.reason
                        : "worker exited with code " + std::to_string(*status.exit_code);
  } else if (WIFSIGNALED(wait_status)) {
    status.signal = WTERMSIG(wait_status);
    status.state = stopping ? JobState::interrupted : JobState::failed;
    status.reason = "worker " + describe_signal(*status.signal);
  }
  if (status.state == JobState::interrupted) status.reason = stop_reason() + " (" + status.reason + ")";
  status.log_tail = combined_log_tail(job_dir);
  return status;
}

bool launch_local(const std::vector<LaunchJob>& jobs, const LocalLauncherOptions& options) {
  InterruptScope interrupts;
  if (options.workers <= 1) return run_in_process(jobs, options);
  return run_workers(jobs, options);
}

}  // namespace mike
