// launcher=local: job statuses and logs, failures recorded while the others
// continue, worker subprocesses that crash (SIGSEGV) or exit non-zero,
// Ctrl-C (in-process and with workers), resume of a sweep directory.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "launch/interrupt.h"
#include "launch/local_launcher.h"
#include "launch/sweep_dir.h"
#include "mike/error.h"
#include "process.h"

namespace fs = std::filesystem;
using namespace mike;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A sweep directory with `count` prepared jobs (config: {job: i}) and its manifest.
fs::path make_sweep(std::size_t count, std::vector<LaunchJob>& jobs, SweepManifest& manifest) {
  fs::path sweep = mike::test::make_temp_dir("sweep");
  jobs.clear();
  manifest = SweepManifest{};
  manifest.launcher = "local";
  for (std::size_t i = 0; i < count; ++i) {
    manifest.jobs.push_back({"+job=" + std::to_string(i)});
    Config config = Config::from_yaml("job: " + std::to_string(i) + "\n");
    prepare_job_dir(sweep_job_dir(sweep, i), config, manifest.jobs.back());
    jobs.push_back(LaunchJob{i, sweep_job_dir(sweep, i), std::nullopt});
  }
  write_sweep_manifest(sweep, manifest);
  return sweep;
}

std::vector<std::string> shell(const std::string& script) { return {"/bin/sh", "-c", script}; }

}  // namespace

TEST_CASE("prepared job dirs hold the config, the overrides and a pending status") {
  std::vector<LaunchJob> jobs;
  SweepManifest manifest;
  fs::path sweep = make_sweep(2, jobs, manifest);
  CHECK(mike::test::read_file((sweep / "1" / "config.yaml").string()) == "job: 1\n");
  CHECK(mike::test::read_file((sweep / "1" / "overrides.yaml").string()) == "- +job=1\n");
  CHECK(read_job_status(sweep / "1").state == JobState::pending);
  SweepManifest read = read_sweep_manifest(sweep);
  CHECK(read.jobs == manifest.jobs);
  CHECK(read.launcher == "local");
}

TEST_CASE("in-process: a failing job is recorded with its error and log, and the others still run") {
  reset_stop_request();
  std::vector<LaunchJob> jobs;
  SweepManifest manifest;
  fs::path sweep = make_sweep(3, jobs, manifest);
  std::vector<int> seen;
  LocalLauncherOptions options;
  options.job_function = [&](const Config& config, const JobContext& context) {
    seen.push_back(config.get<int>("job"));
    CHECK(context.job_index == config.get<int>("job"));
    if (context.job_index == 1) throw DataError("record 7 of data.jsonl has no 'src' field");
  };
  CHECK(launch_local(jobs, options));
  CHECK(seen == std::vector<int>{0, 1, 2});
  CHECK(read_job_status(sweep / "0").state == JobState::done);
  JobStatus failed = read_job_status(sweep / "1");
  CHECK(failed.state == JobState::failed);
  CHECK(failed.reason == "record 7 of data.jsonl has no 'src' field");
  CHECK(failed.exit_code == 3);
  CHECK(contains(failed.log_tail, "job 1 failed: record 7 of data.jsonl has no 'src' field"));
  CHECK(read_job_status(sweep / "2").state == JobState::done);
  std::string log = mike::test::read_file((sweep / "2" / "mike.log").string());
  CHECK(contains(log, "job 2 started"));
  CHECK(contains(log, "job 2 done"));
  CHECK_FALSE(contains(log, "job 1"));  // each job's log holds only its own lines

  SweepCounts counts;
  std::string summary = format_sweep_summary(sweep, manifest, {}, counts);
  CHECK(counts.done == 2);
  CHECK(counts.failed == 1);
  CHECK(sweep_exit_code(counts) == 1);
  CHECK(contains(summary, "    1  failed       +job=1\n                    -> record 7 of data.jsonl has no 'src' field\n"));
  CHECK(contains(summary, "3 jobs, 2 done, 1 failed, 0 interrupted, 0 skipped (done before)"));
  CHECK(contains(summary, "re-run what is not done: mike run -m --resume " + sweep.string()));
}

TEST_CASE("resume re-runs only the jobs that are not done") {
  reset_stop_request();
  std::vector<LaunchJob> jobs;
  SweepManifest manifest;
  fs::path sweep = make_sweep(4, jobs, manifest);
  LocalLauncherOptions options;
  options.job_function = [](const Config&, const JobContext& context) {
    if (context.job_index % 2 == 1) throw std::runtime_error("simulated failure");
  };
  launch_local(jobs, options);
  CHECK(read_job_status(sweep / "1").state == JobState::failed);

  std::vector<bool> skipped;
  std::vector<std::size_t> again = jobs_to_resume(sweep, read_sweep_manifest(sweep), skipped);
  CHECK(again == std::vector<std::size_t>{1, 3});
  CHECK(skipped == std::vector<bool>{true, false, true, false});
  CHECK(read_job_status(sweep / "3").state == JobState::pending);
  std::vector<LaunchJob> resumed;
  for (std::size_t i : again) resumed.push_back(LaunchJob{i, sweep_job_dir(sweep, i), std::nullopt});
  std::vector<int> ran;
  options.job_function = [&](const Config&, const JobContext& context) { ran.push_back(context.job_index); };
  CHECK(launch_local(resumed, options));
  CHECK(ran == std::vector<int>{1, 3});
  SweepCounts counts;
  std::string summary = format_sweep_summary(sweep, manifest, skipped, counts);
  CHECK(counts.done == 2);
  CHECK(counts.skipped == 2);
  CHECK(sweep_exit_code(counts) == 0);
  CHECK(contains(summary, "    0  skipped      +job=0\n"));
  CHECK(contains(summary, "4 jobs, 2 done, 0 failed, 0 interrupted, 2 skipped (done before)\n"));
}

TEST_CASE("in-process Ctrl-C or SIGTERM: the running job may stop itself, the rest stay pending") {
  // SIGTERM is what kill, scancel and a container stop send; the status
  // names the signal that was sent.
  for (const auto& [signal, reason] : {std::pair{SIGINT, "interrupted by Ctrl-C"}, std::pair{SIGTERM, "interrupted by SIGTERM"}}) {
    CAPTURE(reason);
    reset_stop_request();
    std::vector<LaunchJob> jobs;
    SweepManifest manifest;
    fs::path sweep = make_sweep(3, jobs, manifest);
    LocalLauncherOptions options;
    options.job_function = [signal = signal](const Config&, const JobContext&) {
      ::kill(::getpid(), signal);  // the user presses Ctrl-C (or the job is killed) during job 0
      if (stop_requested()) throw JobInterrupted();
    };
    CHECK_FALSE(launch_local(jobs, options));
    CHECK(read_job_status(sweep / "0").state == JobState::interrupted);
    CHECK(read_job_status(sweep / "0").reason == reason);
    CHECK(read_job_status(sweep / "1").state == JobState::pending);
    CHECK(read_job_status(sweep / "2").state == JobState::pending);
    SweepCounts counts;
    format_sweep_summary(sweep, manifest, {}, counts);
    CHECK(counts.interrupted == 1);
    CHECK(counts.pending == 2);
    CHECK(sweep_exit_code(counts) == 130);
    reset_stop_request();
    CHECK(stop_reason() == "interrupted");
  }
}

TEST_CASE("workers: a segfaulting worker fails only its own job") {
  reset_stop_request();
  std::vector<LaunchJob> jobs;
  SweepManifest manifest;
  fs::path sweep = make_sweep(4, jobs, manifest);
  LocalLauncherOptions options;
  options.workers = 2;
  options.worker_command = [](const LaunchJob& job) {
    switch (job.index) {
      case 1: return shell("echo 'about to crash'; kill -SEGV $$");
      case 2: return shell("echo 'bad checkpoint' >&2; exit 5");
      case 3:  // a worker that recorded its own failure keeps its reason
        return shell("printf 'state: failed\\nreason: model file is truncated\\n' > '" + job.dir.string() +
                     "/status.yaml'; exit 5");
      default: return shell("echo fine");
    }
  };
  CHECK(launch_local(jobs, options));
  CHECK(read_job_status(sweep / "0").state == JobState::done);
  CHECK(mike::test::read_file((sweep / "0" / "worker.log").string()) == "fine\n");
  JobStatus crashed = read_job_status(sweep / "1");
  CHECK(crashed.state == JobState::failed);
  CHECK(crashed.reason == "worker killed by signal 11 (SIGSEGV)");
  CHECK(crashed.signal == 11);
  CHECK(contains(crashed.log_tail, "about to crash"));
  JobStatus exited = read_job_status(sweep / "2");
  CHECK(exited.state == JobState::failed);
  CHECK(exited.reason == "worker exited with code 5");
  CHECK(exited.exit_code == 5);
  CHECK(contains(exited.log_tail, "bad checkpoint"));
  CHECK(read_job_status(sweep / "3").reason == "model file is truncated");
}

TEST_CASE("workers: Ctrl-C stops running workers, marks them interrupted, and launches nothing more") {
  reset_stop_request();
  std::vector<LaunchJob> jobs;
  SweepManifest manifest;
  fs::path sweep = make_sweep(4, jobs, manifest);
  LocalLauncherOptions options;
  options.workers = 2;
  options.stop_grace = std::chrono::milliseconds(2000);
  options.worker_command = [](const LaunchJob&) { return shell("exec sleep 30"); };
  std::thread press_ctrl_c([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ::kill(::getpid(), SIGINT);
  });
  auto start = std::chrono::steady_clock::now();
  bool finished = launch_local(jobs, options);
  press_ctrl_c.join();
  CHECK_FALSE(finished);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  for (int i : {0, 1}) {
    JobStatus status = read_job_status(sweep / std::to_string(i));
    CHECK(status.state == JobState::interrupted);
    CHECK(status.reason == "interrupted by Ctrl-C (worker killed by signal 2 (SIGINT))");
  }
  CHECK(read_job_status(sweep / "2").state == JobState::pending);
  CHECK(read_job_status(sweep / "3").state == JobState::pending);
  reset_stop_request();
}

TEST_CASE("a status file with an unknown state is a clear error") {
  fs::path dir = mike::test::make_temp_dir("status");
  mike::test::write_file((dir / "status.yaml").string(), "state: exploded\n");
  try {
    read_job_status(dir);
    FAIL("expected an error");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) == "status file " + (dir / "status.yaml").string() +
                                       " has state 'exploded'; expected pending, running, done, failed or "
                                       "interrupted (delete the file to re-run the job)");
  }
}
