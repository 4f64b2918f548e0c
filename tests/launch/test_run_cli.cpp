// `mike run` from the command line: --cfg job, dry-run listings, config
// errors (exit 2), the files of a run and of a sweep, -j worker sweeps,
// --resume, and `mike sweep status`.
#include <doctest/doctest.h>

#include <filesystem>

#include "process.h"

namespace fs = std::filesystem;
using mike::test::read_file;
using mike::test::run_mike;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A config tree whose jobs cannot succeed in any build (no model plugin
// 'absent'), so run/sweep mechanics are tested without the real runner.
std::string make_configs() {
  std::string dir = mike::test::make_temp_dir("run_cli");
  mike::test::write_file(dir + "/configs/config.yaml",
                         "defaults:\n  - model: absent\n  - launcher: local\n  - _self_\nseed: 0\nlr: 0.1\n"
                         "out_dir: null\n");
  mike::test::write_file(dir + "/configs/model/absent.yaml", "plugin: absent_model_plugin\nlayers: 2\n");
  mike::test::write_file(dir + "/configs/model/other.yaml", "plugin: absent_model_plugin\nlayers: 4\n");
  mike::test::write_file(dir + "/configs/launcher/local.yaml", "name: local\njobs: 1\n");
  return dir;
}

std::string in(const std::string& dir, const std::string& args) {
  return "-q run --config-dir " + dir + "/configs " + args;
}

}  // namespace

TEST_CASE("--cfg job prints the composed config and exits 0") {
  std::string dir = make_configs();
  auto r = run_mike(in(dir, "--cfg job model=other seed=5 +extra.note=hi"));
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        "model:\n  plugin: absent_model_plugin\n  layers: 4\nlauncher:\n  name: local\n  jobs: 1\nseed: 5\nlr: 0.1\n"
        "out_dir: ~\nextra:\n  note: hi\n");
}

TEST_CASE("--dry-run lists every job with its overrides and runs nothing") {
  std::string dir = make_configs();
  auto r = run_mike(in(dir, "-m --dry-run model=absent,other 'seed=range(0,2)' 'zip(lr=0.1,0.2; +tag=a,b)'") +
                    " out_dir=" + dir + "/never");
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        "0: model=absent seed=0 lr=0.1 +tag=a out_dir=" + dir + "/never\n"
        "1: model=absent seed=0 lr=0.2 +tag=b out_dir=" + dir + "/never\n"
        "2: model=absent seed=1 lr=0.1 +tag=a out_dir=" + dir + "/never\n"
        "3: model=absent seed=1 lr=0.2 +tag=b out_dir=" + dir + "/never\n"
        "4: model=other seed=0 lr=0.1 +tag=a out_dir=" + dir + "/never\n"
        "5: model=other seed=0 lr=0.2 +tag=b out_dir=" + dir + "/never\n"
        "6: model=other seed=1 lr=0.1 +tag=a out_dir=" + dir + "/never\n"
        "7: model=other seed=1 lr=0.2 +tag=b out_dir=" + dir + "/never\n");
  CHECK(contains(r.err, "8 jobs (dry run: nothing was run)"));
  CHECK_FALSE(fs::exists(dir + "/never"));
}

TEST_CASE("a sweep declared in the config file runs from one file") {
  std::string dir = make_configs();
  mike::test::write_file(dir + "/experiment.yaml",
                         "defaults:\n  - model: absent\n  - _self_\nseed: 0\nlr: 0.1\n"
                         "sweep:\n  params:\n    seed: range(0,3)\n  zip:\n    - {model: [absent, other], lr: [0.1, 0.3]}\n");
  auto r = run_mike(in(dir, "-m --dry-run --config-name " + dir + "/experiment.yaml"));
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        "0: seed=0 model=absent lr=0.1\n1: seed=0 model=other lr=0.3\n2: seed=1 model=absent lr=0.1\n"
        "3: seed=1 model=other lr=0.3\n4: seed=2 model=absent lr=0.1\n5: seed=2 model=other lr=0.3\n");
}

TEST_CASE("config errors exit 2 with one line that says how to fix them, also in a dry run") {
  std::string dir = make_configs();
  auto r = run_mike(in(dir, "-m --dry-run model=absent,nope"));
  CHECK(r.exit_code == 2);
  CHECK(r.err == "mike: error: unknown option 'nope' for config group 'model' (from override 'model=nope'); "
                 "available options: absent, other; pick one of them or add " + dir + "/configs/model/nope.yaml\n");
  auto typo = run_mike(in(dir, "-m --dry-run sed=1,2"));
  CHECK(typo.exit_code == 2);
  CHECK(contains(typo.err, "key 'sed' is not in the config; nearest existing keys: seed"));
  auto single = run_mike(in(dir, "seed=1,2"));
  CHECK(single.exit_code == 2);
  CHECK(contains(single.err, "override 'seed=1,2' gives several values; run a sweep with -m"));
  auto cfg = run_mike(in(dir, "--cfg hydra"));
  CHECK(cfg.exit_code == 2);
  CHECK(contains(cfg.err, "run: --cfg takes 'job' (print the composed config), not 'hydra'"));
}

TEST_CASE("a single run writes its job dir and records a failure with the reason") {
  std::string dir = make_configs();
  std::string out = dir + "/run";
  auto r = run_mike(in(dir, "seed=3 out_dir=" + out));
  CHECK(r.exit_code != 0);
  CHECK(contains(read_file(out + "/config.yaml"), "seed: 3\n"));
  CHECK(read_file(out + "/overrides.yaml") == "- seed=3\n- out_dir=" + out + "\n");
  std::string status = read_file(out + "/status.yaml");
  CHECK(contains(status, "state: failed\n"));
  CHECK(contains(status, "reason: "));
  CHECK(contains(read_file(out + "/mike.log"), "job 0 failed: "));
  CHECK(contains(r.err, "mike: error: run " + out + " failed: "));
}

TEST_CASE("a -j 2 sweep runs mike workers, records every failure, summarizes, and resumes") {
  std::string dir = make_configs();
  std::string sweep = dir + "/sweep";
  auto r = run_mike(in(dir, "-m -j 2 model=absent,other seed=1,2 out_dir=" + sweep));
  CHECK(r.exit_code == 1);
  CHECK(contains(read_file(sweep + "/multirun.yaml"), "- [model=other, seed=2, out_dir=" + sweep + "]"));
  for (int i = 0; i < 4; ++i) {
    std::string job = sweep + "/" + std::to_string(i);
    CHECK(contains(read_file(job + "/status.yaml"), "state: failed\n"));
    CHECK(fs::exists(job + "/worker.log"));
    CHECK(contains(read_file(job + "/mike.log"), "job " + std::to_string(i) + " started"));
  }
  CHECK(contains(read_file(sweep + "/3/config.yaml"), "layers: 4\n"));
  CHECK(contains(r.out, "    3  failed       model=other seed=2 out_dir=" + sweep + "\n"));
  CHECK(contains(r.out, "4 jobs, 0 done, 4 failed, 0 interrupted, 0 skipped (done before)"));

  // Pretend job 2 finished: a resume re-runs only the other three.
  mike::test::write_file(sweep + "/2/status.yaml", "state: done\n");
  auto resumed = run_mike("-q run --resume " + sweep);
  CHECK(resumed.exit_code == 1);
  CHECK(contains(resumed.out, "    2  skipped      model=other seed=1"));
  CHECK(contains(resumed.out, "4 jobs, 0 done, 3 failed, 0 interrupted, 1 skipped (done before)"));
  auto wrong = run_mike("-q run --resume " + sweep + " seed=9");
  CHECK(wrong.exit_code == 2);
  CHECK(contains(wrong.err, "continues that sweep with its own overrides"));
  auto not_a_sweep = run_mike("-q run --resume " + dir);
  CHECK(not_a_sweep.exit_code == 2);
  CHECK(contains(not_a_sweep.err, "'" + dir + "' is not a sweep directory: it has no multirun.yaml"));
}
