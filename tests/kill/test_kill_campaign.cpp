// The kill campaign: `mike run` (sequential protocol), a `mike run -m -j 2`
// sweep and `mike pretrain` are each killed with SIGKILL, every process of
// the command at once, at seeded random points of their running time (20 in
// all), then continued the way mike's own messages say (--resume, or the
// same command again when nothing was written yet). Each must end with
// exactly the numbers of an uninterrupted run, and nothing it reported as
// done before the kill may be redone or lost.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "process.h"

namespace fs = std::filesystem;
using mike::test::read_file;
using mike::test::run_command;
using Clock = std::chrono::steady_clock;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Processes (not zombies) whose session is `session`.
std::vector<pid_t> session_members(pid_t session) {
  std::vector<pid_t> members;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = read_file(entry.path().string() + "/stat");
    const std::size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    int ppid = 0, pgrp = 0, sid = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %d %d %d", &state, &ppid, &pgrp, &sid) != 4) continue;
    if (sid == session && state != 'Z') members.push_back(std::stoi(name));
  }
  return members;
}

struct KillOutcome {
  bool finished_first = false;  // the command ended before its kill time
  std::string err;              // what it printed to stderr until then
};

// Runs `command` in a session of its own (so the kill reaches every worker
// it starts, as a node failure or the OOM killer would), SIGKILLs the whole
// session after `delay`, and returns once none of its processes is left.
KillOutcome run_and_kill(const std::string& command, std::chrono::milliseconds delay, const std::string& err_file) {
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    setsid();
    const int null = open("/dev/null", O_RDWR);
    const int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(null, 0);
    dup2(null, 1);
    dup2(err, 2);
    execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  KillOutcome outcome;
  const auto until = Clock::now() + delay;
  int status = 0;
  while (Clock::now() < until) {
    if (waitpid(child, &status, WNOHANG) == child) {
      outcome.finished_first = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!outcome.finished_first) {
    kill(-child, SIGKILL);
    waitpid(child, &status, 0);
  }
  // Workers the launcher started share the session; wait until they are gone.
  const auto give_up = Clock::now() + std::chrono::seconds(20);
  for (auto left = session_members(child); !left.empty(); left = session_members(child)) {
    REQUIRE_MESSAGE(Clock::now() < give_up, "processes of the killed command are still alive");
    for (pid_t pid : left) kill(pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  outcome.err = read_file(err_file);
  return outcome;
}

// The largest N of the lines matching `pattern` (one group: the number), or 0.
int last_count(const std::string& text, const std::string& pattern) {
  int best = 0;
  const std::regex re(pattern);
  for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it)
    best = std::max(best, std::stoi((*it)[1]));
  return best;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Kill times: seeded fractions of the uninterrupted run's wall time, so the
// same points are aimed at on every run of the test.
std::vector<std::chrono::milliseconds> kill_points(std::uint64_t seed, int count, double reference_seconds) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> fraction(0.02, 0.98);
  std::vector<std::chrono::milliseconds> points;
  for (int i = 0; i < count; ++i)
    points.emplace_back(static_cast<long>(fraction(rng) * reference_seconds * 1000.0));
  return points;
}

// Everything a run logs that must not depend on being killed: every edit
// column but the wall time, every metric row, and summary.json's metrics.
std::string run_numbers(const std::string& run_dir) {
  const auto dump = run_command(
      "h5dump -d /edits/record_id -d /edits/entity -d /edits/target -d /edits/step -g /edits/stats -g /metrics " +
      run_dir + "/run.h5 | tail -n +2");
  REQUIRE_MESSAGE(dump.exit_code == 0, run_dir, dump.err);
  const auto summary = nlohmann::json::parse(read_file(run_dir + "/summary.json"));
  return dump.out + summary.at("metrics").dump() + " edits " + summary.at("edits").dump();
}

// The world and the configs of the run and sweep scenarios: the toy fixture
// model, ft on one weight, the sequential protocol with checkpoints.
struct RunSetup {
  std::string dir, configs;
};

RunSetup make_run_setup() {
  RunSetup s;
  s.dir = mike::test::make_temp_dir("kill_run");
  s.configs = s.dir + "/configs";
  const auto synth =
      mike::test::run_mike("-q data synth --out " + s.dir + "/world --entities 26 --images-per-entity 4 --size 16");
  REQUIRE_MESSAGE(synth.exit_code == 0, synth.err);
  mike::test::write_file(
      s.configs + "/config.yaml",
      "defaults:\n  - model: toy\n  - editor: ft\n  - launcher: local\n  - _self_\n"
      "task: vna\nigen: augmented\nseed: 0\nthreads: 1\n"
      "data: {format: mike, dir: '" + s.dir + "/world', split: test, limit: 10}\n"
      "protocol: {name: sequential, checkpoints: [3, 7]}\neval: {batch_size: 4, max_new_tokens: 8}\n"
      "metric: {edit_accuracy: {plugin: edit_accuracy}, locality: {plugin: locality, top_k: 5}, probes: {vna: "
      "{reliability: [edit_accuracy], t_generality: [edit_accuracy], i_generality: [edit_accuracy], "
      "t_locality: [locality], m_locality: [locality]}}}\nout_dir: null\n");
  mike::test::write_file(s.configs + "/model/toy.yaml", "plugin: toy\ninit_scale: 0.1\nseed: 1\n");
  mike::test::write_file(s.configs + "/editor/ft.yaml",
                         "plugin: ft\nlayers: []\nparams: [bigram.weight]\nsteps: 15\nlr: 0.5\nweight_decay: 0.0\n"
                         "norm_constraint: 0.0\nearly_stop_loss: 0.0\n");
  mike::test::write_file(s.configs + "/launcher/local.yaml", "name: local\njobs: 1\n");
  return s;
}

std::string mike_run(const RunSetup& s) {
  return std::string(MIKE_EXE) + " run --plugin-path " + MIKE_FIXTURE_PLUGIN_DIR + " --config-dir " + s.configs;
}

std::string mike_resume(const std::string& dir, const std::string& extra = "") {
  return std::string(MIKE_EXE) + " run --plugin-path " + MIKE_FIXTURE_PLUGIN_DIR + " --resume " + dir + extra;
}

}  // namespace

TEST_CASE("a sequential mike run killed at 8 random points resumes to the uninterrupted numbers") {
  const RunSetup s = make_run_setup();
  const std::string reference = s.dir + "/reference";
  const auto start = Clock::now();
  const auto whole = run_command(mike_run(s) + " out_dir=" + reference);
  const double reference_seconds = seconds_since(start);
  REQUIRE_MESSAGE(whole.exit_code == 0, whole.err);
  const std::string expected = run_numbers(reference);

  int killed_mid_run = 0;
  for (const auto delay : kill_points(18, 8, reference_seconds)) {
    const std::string dir = s.dir + "/killed_" + std::to_string(delay.count());
    CAPTURE(dir);
    const KillOutcome killed = run_and_kill(mike_run(s) + " out_dir=" + dir, delay, s.dir + "/killed.err");
    // Edits the killed run reported done ("[I] k/10 edits") must survive it.
    const int reported = last_count(killed.err, R"((\d+)/10 edits)");
    killed_mid_run += killed.finished_first ? 0 : 1;

    auto resumed = run_command(mike_resume(dir));
    if (resumed.exit_code != 0) {
      // Killed before the run wrote its config: mike says to start it again.
      INFO(resumed.err);
      REQUIRE(contains(resumed.err, "start the run again"));
      CHECK(reported == 0);
      resumed = run_command(mike_run(s) + " out_dir=" + dir);
    }
    INFO(killed.err, resumed.err);
    REQUIRE(resumed.exit_code == 0);
    const int resumed_after = last_count(resumed.err, R"(resuming \S+ after (\d+) edits)");
    if (!contains(resumed.err, "is already done")) CHECK(resumed_after >= reported);
    CHECK(run_numbers(dir) == expected);
  }
  // Most points must land inside the run, or the campaign tests nothing (the
  // last ones may come after a run that went faster than the reference).
  CHECK(killed_mid_run >= 4);
}

TEST_CASE("a -j 2 sweep killed at 6 random points resumes to the uninterrupted numbers of every job") {
  const RunSetup s = make_run_setup();
  const std::string sweep = " -m -j 2 editor.lr=0.5,0.3,0.2,0.1";
  const std::string reference = s.dir + "/reference";
  const auto start = Clock::now();
  const auto whole = run_command(mike_run(s) + sweep + " out_dir=" + reference);
  const double reference_seconds = seconds_since(start);
  REQUIRE_MESSAGE(whole.exit_code == 0, whole.err);
  std::vector<std::string> expected;
  for (int job = 0; job < 4; ++job) expected.push_back(run_numbers(reference + "/" + std::to_string(job)));

  int killed_mid_run = 0;
  for (const auto delay : kill_points(26, 6, reference_seconds)) {
    const std::string dir = s.dir + "/killed_" + std::to_string(delay.count());
    CAPTURE(dir);
    const KillOutcome killed = run_and_kill(mike_run(s) + sweep + " out_dir=" + dir, delay, s.dir + "/killed.err");
    killed_mid_run += killed.finished_first ? 0 : 1;
    // Per job: the edits its worker reported done, and whether it had finished.
    std::vector<int> reported(4, 0);
    std::vector<bool> finished(4, false);
    std::vector<std::size_t> log_size(4, 0);
    for (int job = 0; job < 4; ++job) {
      const std::string job_dir = dir + "/" + std::to_string(job);
      const std::string log = read_file(job_dir + "/mike.log");
      reported[job] = last_count(log, R"((\d+)/10 edits)");
      finished[job] = fs::exists(job_dir + "/summary.json");
      log_size[job] = log.size();
    }

    auto resumed = run_command(mike_resume(dir, " -j 2"));
    if (resumed.exit_code != 0) {
      INFO(resumed.err);
      REQUIRE((contains(resumed.err, "start the run again") || contains(resumed.err, "start the sweep again")));
      CHECK(*std::max_element(reported.begin(), reported.end()) == 0);
      resumed = run_command(mike_run(s) + sweep + " out_dir=" + dir);
    }
    INFO(killed.err, resumed.err);
    REQUIRE(resumed.exit_code == 0);
    for (int job = 0; job < 4; ++job) {
      CAPTURE(job);
      const std::string job_dir = dir + "/" + std::to_string(job);
      const std::string after = read_file(job_dir + "/mike.log").substr(log_size[job]);
      if (!finished[job] && reported[job] > 0)
        CHECK(last_count(after, R"(resuming \S+ after (\d+) edits)") >= reported[job]);
      if (finished[job]) CHECK_FALSE(contains(after, "edits"));  // a finished job is not run again
      CHECK(run_numbers(job_dir) == expected[job]);
    }
  }
  CHECK(killed_mid_run >= 3);
}

TEST_CASE("mike pretrain killed at 6 random points resumes to the uninterrupted weights") {
  const std::string dir = mike::test::make_temp_dir("kill_pretrain");
  const auto synth =
      mike::test::run_mike("-q data synth --out " + dir + "/world --entities 26 --images-per-entity 3 --size 16");
  REQUIRE_MESSAGE(synth.exit_code == 0, synth.err);
  const std::string configs = dir + "/configs";
  mike::test::write_file(configs + "/config.yaml",
                         "defaults:\n  - model: tiny\n  - data: tiny\n  - _self_\nseed: 0\nthreads: 1\n");
  mike::test::write_file(configs + "/model/tiny.yaml",
                         "plugin: llava\ntokenizer_vocab_size: 400\n"
                         "vision: {image_size: 16, patch_size: 8, hidden: 32, layers: 1, heads: 2, intermediate: 64}\n"
                         "lm: {hidden: 48, layers: 1, heads: 4, kv_heads: 2, intermediate: 96}\n"
                         "pretrain: {steps: 60, batch_size: 8, lr: 5.0e-3, warmup_steps: 5, checkpoint_every: 10, "
                         "eval_limit: 8}\n");
  mike::test::write_file(configs + "/data/tiny.yaml", "format: mike\ndir: " + dir + "/world\n");
  auto pretrain = [&](const std::string& cache, const std::string& flags) {
    return "env MIKE_CACHE=" + cache + " " + MIKE_EXE + " pretrain " + flags + " --config-dir " + configs;
  };
  auto weights_of = [](const std::string& out) {
    std::smatch m;
    REQUIRE_MESSAGE(std::regex_search(out, m, std::regex("checkpoint: (\\S+)")), out);
    return read_file(m[1].str() + "/model.safetensors");
  };

  const auto start = Clock::now();
  const auto whole = run_command(pretrain(dir + "/cache_reference", ""));
  const double reference_seconds = seconds_since(start);
  REQUIRE_MESSAGE(whole.exit_code == 0, whole.err);
  const std::string expected = weights_of(whole.out);
  REQUIRE(expected.size() > 10000);
  const std::string expected_loss = whole.out.substr(whole.out.find("final loss:"));

  int killed_mid_run = 0;
  for (const auto delay : kill_points(60, 6, reference_seconds)) {
    const std::string cache = dir + "/cache_" + std::to_string(delay.count());
    CAPTURE(cache);
    // stderr is not a terminal: one progress line per 5% ("pretrain d/60").
    const KillOutcome killed = run_and_kill(pretrain(cache, ""), delay, dir + "/killed.err");
    killed_mid_run += killed.finished_first ? 0 : 1;
    // Step d was reported, so every checkpoint before it (each 10 steps) was written.
    const int reported = last_count(killed.err, R"(pretrain (\d+)/60)");
    const int saved = reported > 0 ? (reported - 1) / 10 * 10 : 0;

    const auto resumed = run_command(pretrain(cache, "--resume"));
    INFO(killed.err, resumed.err);
    REQUIRE(resumed.exit_code == 0);
    if (!contains(resumed.out, "(cached)"))
      CHECK(last_count(resumed.err, R"(resuming pretraining at step (\d+)/60)") >= saved);
    CHECK(weights_of(resumed.out) == expected);
    CHECK(resumed.out.substr(resumed.out.find("final loss:")) == expected_loss);
  }
  CHECK(killed_mid_run >= 3);
}
