// `mike run` from the command line, end to end over the fixture plugins:
// --cfg job, dry-run listings, config errors (exit 2), the files of a run and
// of a sweep, a -j 2 sweep where one plugin segfaults, --resume, and
// `mike sweep status`.
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

// A generated mini world (26 entities, 16 px images), made once per test binary.
const std::string& world_dir() {
  static const std::string dir = [] {
    std::string d = mike::test::make_temp_dir("run_cli_world");
    auto r = run_mike("-q data synth --out " + d + " --entities 26 --images-per-entity 4 --size 16");
    REQUIRE(r.exit_code == 0);
    return d;
  }();
  return dir;
}

// A config tree over the fixture plugins (toy model; scale and crash editors)
// that runs 2 edits per job in a second or two.
std::string make_configs() {
  std::string dir = mike::test::make_temp_dir("run_cli");
  mike::test::write_file(dir + "/configs/config.yaml",
                         "defaults:\n  - model: toy\n  - editor: scale\n  - launcher: local\n  - _self_\n"
                         "task: vna\nigen: augmented\nseed: 0\nthreads: 1\n"
                         "data: {format: mike, dir: '" + world_dir() + "', split: test, limit: 2}\n"
                         "protocol: {name: single}\neval: {batch_size: 4, max_new_tokens: 4}\n"
                         "metric: {exact: {plugin: exact}, probes: {vna: {reliability: [exact]}}}\nout_dir: null\n");
  mike::test::write_file(dir + "/configs/model/toy.yaml", "plugin: toy\ninit_scale: 0.1\nseed: 1\n");
  mike::test::write_file(dir + "/configs/model/absent.yaml", "plugin: absent_model_plugin\n");
  mike::test::write_file(dir + "/configs/editor/scale.yaml", "plugin: scale\nparameter: bigram.weight\nfactor: 2.0\n");
  mike::test::write_file(dir + "/configs/editor/crash.yaml", "plugin: crash\n");
  mike::test::write_file(dir + "/configs/launcher/local.yaml", "name: local\njobs: 1\n");
  return dir;
}

std::string in(const std::string& dir, const std::string& args) {
  return std::string("-q run --plugin-path ") + MIKE_FIXTURE_PLUGIN_DIR + " --config-dir " + dir + "/configs " + args;
}

}  // namespace

TEST_CASE("--cfg job prints the composed config and exits 0") {
  std::string dir = make_configs();
  auto r = run_mike(in(dir, "--cfg job model=absent seed=5 +extra.note=hi"));
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        // editor: the scale plugin's defaults first, then the group file on top
        "model:\n  plugin: absent_model_plugin\neditor:\n  parameter: bigram.weight\n  factor: 2.0\n  plugin: scale\n"
        "launcher:\n  name: local\n  jobs: 1\ntask: vna\nigen: augmented\nseed: 5\nthreads: 1\n"
        "data: {format: mike, dir: " + world_dir() + ", split: test, limit: 2}\n"
        "protocol: {name: single}\neval: {batch_size: 4, max_new_tokens: 4}\n"
        "metric: {exact: {plugin: exact}, probes: {vna: {reliability: [exact]}}}\nout_dir: ~\nextra:\n  note: hi\n");
}

TEST_CASE("--dry-run lists every job with its overrides and runs nothing") {
  std::string dir = make_configs();
  auto r = run_mike(in(dir, "-m --dry-run model=absent,toy 'seed=range(0,2)' 'zip(threads=1,2; +tag=a,b)'") +
                    " out_dir=" + dir + "/never");
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        "0: model=absent seed=0 threads=1 +tag=a out_dir=" + dir + "/never\n"
        "1: model=absent seed=0 threads=2 +tag=b out_dir=" + dir + "/never\n"
        "2: model=absent seed=1 threads=1 +tag=a out_dir=" + dir + "/never\n"
        "3: model=absent seed=1 threads=2 +tag=b out_dir=" + dir + "/never\n"
        "4: model=toy seed=0 threads=1 +tag=a out_dir=" + dir + "/never\n"
        "5: model=toy seed=0 threads=2 +tag=b out_dir=" + dir + "/never\n"
        "6: model=toy seed=1 threads=1 +tag=a out_dir=" + dir + "/never\n"
        "7: model=toy seed=1 threads=2 +tag=b out_dir=" + dir + "/never\n");
  CHECK(contains(r.err, "8 jobs (dry run: nothing was run)"));
  CHECK_FALSE(fs::exists(dir + "/never"));
}

TEST_CASE("a fixed override may set a key that only the swept group options have") {
  std::string dir = make_configs();
  for (const std::string option : {"tuned_a", "tuned_b"})
    mike::test::write_file(dir + "/configs/editor/" + option + ".yaml",
                           "plugin: scale\nparameter: bigram.weight\nfactor: 2.0\nnote: only here\n");
  auto r = run_mike(in(dir, "-m --dry-run editor=tuned_a,tuned_b editor.note=x"));
  CHECK(r.exit_code == 0);
  CAPTURE(r.err);
  CHECK(r.out == "0: editor=tuned_a editor.note=x\n1: editor=tuned_b editor.note=x\n");
  // The default option (scale) has no `note`: without a swept group it is an error.
  auto plain = run_mike(in(dir, "-m --dry-run seed=1,2 editor.note=x"));
  CHECK(plain.exit_code == 2);
  CHECK(contains(plain.err, "key 'editor.note' is not in the config"));
}

TEST_CASE("a sweep declared in the config file runs from one file") {
  std::string dir = make_configs();
  mike::test::write_file(dir + "/experiment.yaml",
                         "defaults:\n  - model: absent\n  - _self_\nseed: 0\nlr: 0.1\n"
                         "sweep:\n  params:\n    seed: range(0,3)\n  zip:\n    - {model: [absent, toy], lr: [0.1, 0.3]}\n");
  auto r = run_mike(in(dir, "-m --dry-run --config-name " + dir + "/experiment.yaml"));
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        "0: seed=0 model=absent lr=0.1\n1: seed=0 model=toy lr=0.3\n2: seed=1 model=absent lr=0.1\n"
        "3: seed=1 model=toy lr=0.3\n4: seed=2 model=absent lr=0.1\n5: seed=2 model=toy lr=0.3\n");
}

TEST_CASE("config errors exit 2 with one line that says how to fix them, also in a dry run") {
  std::string dir = make_configs();
  auto r = run_mike(in(dir, "-m --dry-run model=absent,nope"));
  CHECK(r.exit_code == 2);
  CHECK(r.err == "mike: error: unknown option 'nope' for config group 'model' (from override 'model=nope'); "
                 "available options: absent, toy; model plugins (with their default config): llava, toy; pick one of "
                 "them or add " + dir + "/configs/model/nope.yaml\n");
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

TEST_CASE("a single run writes its job dir; a failing one records the reason and exits with its code") {
  std::string dir = make_configs();
  std::string out = dir + "/run";
  auto r = run_mike(in(dir, "seed=3 out_dir=" + out));
  CHECK(r.exit_code == 0);
  CHECK(contains(read_file(out + "/config.yaml"), "seed: 3\n"));
  CHECK(read_file(out + "/overrides.yaml") == "- seed=3\n- out_dir=" + out + "\n");
  CHECK(contains(read_file(out + "/status.yaml"), "state: done\n"));
  CHECK(fs::exists(out + "/summary.json"));
  CHECK(fs::exists(out + "/run.h5"));
  CHECK(contains(read_file(out + "/mike.log"), "job 0 done"));

  std::string bad = dir + "/bad";
  auto failed = run_mike(in(dir, "model=absent out_dir=" + bad));
  CHECK(failed.exit_code == 4);  // a plugin error: the job's own exit code
  std::string status = read_file(bad + "/status.yaml");
  CHECK(contains(status, "state: failed\n"));
  CHECK(contains(status, "absent_model_plugin"));
  CHECK(contains(failed.err, "mike: error: run " + bad + " failed: "));
}

TEST_CASE("a -j 2 sweep: a segfaulting plugin fails only its job; summary, exit code and resume") {
  std::string dir = make_configs();
  std::string sweep = dir + "/sweep";
  auto r = run_mike(in(dir, "-m -j 2 editor=crash,scale seed=1,2 out_dir=" + sweep));
  CHECK(r.exit_code == 1);
  CHECK(contains(read_file(sweep + "/multirun.yaml"), "- [editor=scale, seed=2, out_dir=" + sweep + "]"));
  for (int i = 0; i < 4; ++i) {
    std::string job = sweep + "/" + std::to_string(i);
    std::string status = read_file(job + "/status.yaml");
    CHECK(contains(read_file(job + "/mike.log"), "job " + std::to_string(i) + " started"));
    if (i < 2) {  // editor=crash raises SIGSEGV inside edit()
      CHECK(contains(status, "state: failed\nreason: worker killed by signal 11 (SIGSEGV)\nsignal: 11\n"));
      CHECK(contains(status, "computing pre-edit outputs"));  // the log tail
    } else {
      CHECK(contains(status, "state: done\n"));
      CHECK(fs::exists(job + "/summary.json"));
    }
  }
  CHECK(contains(read_file(sweep + "/3/config.yaml"), "plugin: scale\n"));
  CHECK(contains(r.out, "    0  failed       editor=crash seed=1 out_dir=" + sweep +
                            "\n                    -> worker killed by signal 11 (SIGSEGV)\n"));
  CHECK(contains(r.out, "4 jobs, 2 done, 2 failed, 0 interrupted, 0 skipped (done before)"));

  auto status = run_mike("sweep status " + sweep);
  CHECK(status.exit_code == 1);
  CHECK(contains(status.out, "    3  done         editor=scale seed=2"));

  // Resume re-runs only the two failed jobs (they crash again); the done ones are skipped.
  auto resumed = run_mike("-q run -j 2 --plugin-path " MIKE_FIXTURE_PLUGIN_DIR " --resume " + sweep);
  CHECK(resumed.exit_code == 1);
  CHECK(contains(resumed.out, "    2  skipped      editor=scale seed=1"));
  CHECK(contains(resumed.out, "4 jobs, 0 done, 2 failed, 0 interrupted, 2 skipped (done before)"));
  auto wrong = run_mike("-q run --resume " + sweep + " seed=9");
  CHECK(wrong.exit_code == 2);
  CHECK(contains(wrong.err, "continues that sweep with its own overrides"));
  auto not_a_sweep = run_mike("-q run --resume " + dir);
  CHECK(not_a_sweep.exit_code == 2);
  CHECK(contains(not_a_sweep.err, "'" + dir + "' is neither a run nor a sweep directory: it has no config.yaml and no multirun.yaml"));
}
