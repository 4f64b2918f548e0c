// Hostile configs, overrides and sweeps (issue 18): each runs `mike` as a
// subprocess under `timeout` and must end, without a signal and in bounded
// time, with exit 2 and a message that says what is wrong, where and how to
// fix it; the valid inputs next to them must behave.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "process.h"

namespace fs = std::filesystem;
using mike::test::CommandResult;
using mike::test::write_file;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A generated mini world (26 entities, 16 px images), made once per test binary.
const std::string& world_dir() {
  static const std::string dir = [] {
    std::string d = mike::test::make_temp_dir("hostile_world");
    auto r = mike::test::run_mike("-q data synth --out " + d + " --entities 26 --images-per-entity 4 --size 16");
    REQUIRE(r.exit_code == 0);
    return d;
  }();
  return dir;
}

// A config tree over the fixture plugins (toy model, scale editor, exact
// metric) that runs 2 edits in a second or two.
std::string make_configs() {
  std::string dir = mike::test::make_temp_dir("hostile");
  write_file(dir + "/configs/config.yaml",
             "defaults:\n  - model: toy\n  - editor: scale\n  - launcher: local\n  - _self_\n"
             "task: vna\nigen: augmented\nseed: 0\nthreads: 1\n"
             "data: {format: mike, dir: '" +
                 world_dir() +
                 "', split: test, limit: 2}\n"
                 "protocol: {name: single}\neval: {batch_size: 4, max_new_tokens: 4}\n"
                 "metric: {exact: {plugin: exact}, probes: {vna: {reliability: [exact]}}}\nout_dir: " +
                 dir + "/run\n");
  write_file(dir + "/configs/model/toy.yaml", "plugin: toy\ninit_scale: 0.1\nseed: 1\n");
  write_file(dir + "/configs/editor/scale.yaml", "plugin: scale\nparameter: bigram.weight\nfactor: 2.0\n");
  write_file(dir + "/configs/launcher/local.yaml", "name: local\njobs: 1\n");
  return dir;
}

// `mike -q run` over `dir`'s configs, killed after 20 s (then exit 124, or 137
// when it ignores SIGTERM too).
CommandResult run_in(const std::string& dir, const std::string& args) {
  return mike::test::run_command(std::string("timeout -k 5 20 ") + MIKE_EXE + " -q run --plugin-path " +
                                 MIKE_FIXTURE_PLUGIN_DIR + " --config-dir " + dir + "/configs " + args);
}

// Exit 2 (config/usage error), in time, no signal, and every word in the message.
void check_refused(const CommandResult& r, const std::vector<std::string>& words) {
  CAPTURE(r.err);
  CHECK(r.exit_code != 124);  // timed out: a hang
  CHECK(r.exit_code != 137);  // timed out and ignored SIGTERM
  CHECK(r.exit_code < 128);   // killed by a signal (bad_alloc aborts, segfaults)
  CHECK(r.exit_code == 2);
  for (const std::string& word : words) CHECK_MESSAGE(contains(r.err, word), "missing: " << word);
}

// The same for a valid input: exit 0.
void check_ok(const CommandResult& r) {
  CAPTURE(r.err);
  CHECK(r.exit_code == 0);
}

// "billion laughs": each of 9 anchors aliases the one before 9 times.
std::string alias_bomb(const char* separator) {
  std::string text = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]";
  char previous = 'a';
  for (char name = 'b'; name <= 'i'; ++name) {
    text += std::string(separator) + name + ": &" + name + " [";
    for (int i = 0; i < 9; ++i) text += std::string(i ? ", " : "") + "*" + previous;
    text += "]";
    previous = name;
  }
  return text;
}

}  // namespace

TEST_CASE("a sweep's jobs are counted from its axis sizes before anything is expanded") {
  std::string dir = make_configs();
  // Each axis alone is over the limit: refused before materialising it.
  check_refused(run_in(dir, "-m --dry-run 'seed=range(0,100000)' 'editor.factor=range(0,100000)'"),
                {"sweep 'seed=range(0,100000)'", "range() has 100000 values", "job limit is 10000", "sweep.max_jobs",
                 "--max-jobs"});
  // Axes within the limit whose product is not: the product is the error.
  check_refused(run_in(dir, "-m --dry-run 'seed=range(0,5000)' 'editor.factor=range(0,5000)'"),
                {"the sweep has 25000000 jobs", "seed: 5000 x editor.factor: 5000 values", "job limit is 10000",
                 "++sweep.max_jobs=N"});
  // Huge ranges, float ranges and zipped ranges are counted, not expanded.
  check_refused(run_in(dir, "-m --dry-run 'seed=range(0,1e18)'"), {"range() has 1000000000000000000 values"});
  check_refused(run_in(dir, "-m --dry-run 'seed=range(0,1e15,0.5)'"), {"range() has 2000000000000000 values"});
  check_refused(run_in(dir, "-m --dry-run 'zip(seed=range(0,1000000000); +tag=range(0,1000000000))'"),
                {"range() has 1000000000 values", "job limit is 10000"});
  // 10^20 jobs do not fit 64 bits: the count saturates instead of wrapping.
  std::string axes;
  for (int i = 0; i < 20; ++i) axes += " +a" + std::to_string(i) + "=0,1,2,3,4,5,6,7,8,9";
  check_refused(run_in(dir, "-m --dry-run" + axes),
                {"the sweep has more than", "a0: 10 x a1: 10", "job limit is 10000"});
}

TEST_CASE("the job limit can be raised from the command line or the config, within a ceiling") {
  std::string dir = make_configs();
  auto flag = run_in(dir, "-m --dry-run --max-jobs 20000 'seed=range(0,20000)'");
  check_ok(flag);
  CHECK(contains(flag.err, "20000 jobs (dry run"));
  auto key = run_in(dir, "-m --dry-run ++sweep.max_jobs=20000 'seed=range(0,20000)'");
  check_ok(key);
  CHECK(contains(key.err, "20000 jobs (dry run"));
  check_refused(run_in(dir, "-m --dry-run ++sweep.max_jobs=0 seed=1,2"),
                {"config key 'sweep.max_jobs' is 0", "override '++sweep.max_jobs=0'", "from 1 to 1000000"});
  check_refused(run_in(dir, "-m --dry-run --max-jobs 2000000 seed=1,2"),
                {"--max-jobs 2000000 is out of range", "1 to 1000000"});
}

TEST_CASE("integer ranges step without overflow, and out-of-range bounds say so") {
  std::string dir = make_configs();
  auto edge = run_in(dir, "-m --dry-run 'seed=range(9223372036854775806,9223372036854775807,2)'");
  check_ok(edge);
  CHECK(edge.out == "0: seed=9223372036854775806\n");
  auto down = run_in(dir, "-m --dry-run 'seed=range(-9223372036854775807,-9223372036854775808,-5)'");
  check_ok(down);
  CHECK(down.out == "0: seed=-9223372036854775807\n");
  check_refused(run_in(dir, "-m --dry-run 'seed=range(0,1e20)'"),
                {"range() argument '1e20' is out of range", "+-9.2e18"});
  check_refused(run_in(dir, "-m --dry-run 'seed=range(0,99999999999999999999)'"),
                {"'99999999999999999999' is out of range"});
}

TEST_CASE("sweeps that would make empty or duplicate jobs are refused") {
  std::string dir = make_configs();
  check_refused(run_in(dir, "-m --dry-run seed=1,"), {"sweep 'seed=1,'", "value 2 of 2 is empty", "stray comma"});
  check_refused(run_in(dir, "-m --dry-run 'seed=choice()'"), {"choice() lists no values", "seed=choice(1,2)"});
  check_refused(run_in(dir, "-m --dry-run 'seed=range(0,5'"),
                {"override 'seed=range(0,5'", "'(' at column 6", "never closed", "seed=range(0,5)"});
  check_refused(run_in(dir, "-m --dry-run seed=1,2 seed=3,4"),
                {"key 'seed' is set by two arguments, 'seed=1,2' and 'seed=3,4'", "seed=1,2,3,4"});
  check_refused(run_in(dir, "-m --dry-run seed=1 seed=3,4"), {"key 'seed' is set by two arguments"});
  check_refused(run_in(dir, "-m --dry-run 'zip(seed=1,2; +tag=a,b)' seed=5,6"), {"key 'seed' is set by two arguments"});
  check_refused(run_in(dir, "-m --dry-run seed=1,1"), {"value '1' comes twice", "list each value once"});
  // A fixed key twice is a plain override order (the last wins), as in one run.
  auto fixed = run_in(dir, "-m --dry-run seed=1 seed=2 +tag=a,b");
  check_ok(fixed);
  CHECK(fixed.out == "0: seed=1 seed=2 +tag=a\n1: seed=1 seed=2 +tag=b\n");
}

TEST_CASE("YAML alias bombs are refused with the file or override that holds them") {
  std::string dir = make_configs();
  write_file(dir + "/configs/editor/bomb.yaml", "plugin: scale\n" + alias_bomb("\n") + "\n");
  check_refused(run_in(dir, "--cfg job editor=bomb"),
                {dir + "/configs/editor/bomb.yaml:", "alias bomb", "more than 1000000 nodes"});
  check_refused(run_in(dir, "-m --dry-run editor=bomb"), {dir + "/configs/editor/bomb.yaml:", "alias bomb"});
  check_refused(run_in(dir, "--cfg job '+x={" + alias_bomb(", ") + "}'"), {"override '+x={a: &a", "alias bomb"});
  // An alias inside the node its anchor names: a node that contains itself
  // (fuzz_compose found the stack overflow this was).
  write_file(dir + "/configs/editor/cycle.yaml", "plugin: scale\nloop: &a\n  - <<: *a\n");
  check_refused(run_in(dir, "--cfg job editor=cycle"),
                {dir + "/configs/editor/cycle.yaml:3:", "the alias *a is inside the node &a", "contain itself"});
  // A few aliases are fine: they are values like any other.
  write_file(dir + "/configs/editor/aliases.yaml", "plugin: scale\nbase: &base {factor: 3.0}\ncopy: *base\n");
  auto fine = run_in(dir, "--cfg job editor=aliases");
  check_ok(fine);
  CHECK(contains(fine.out, "{factor: 3.0}"));
}

TEST_CASE("duplicate keys, invalid UTF-8 and second documents are refused with file:line") {
  std::string dir = make_configs();
  write_file(dir + "/configs/editor/dup.yaml", "plugin: scale\nfactor: 1.0\nfactor: 2.0\n");
  check_refused(run_in(dir, "--cfg job editor=dup"),
                {"duplicate key 'factor' in " + dir + "/configs/editor/dup.yaml:3:1", "first at line 2"});
  write_file(dir + "/configs/editor/nested_dup.yaml", "plugin: scale\nopt: {lr: 1, lr: 2}\n");
  check_refused(run_in(dir, "--cfg job editor=nested_dup"), {"duplicate key 'lr'", "nested_dup.yaml:2:"});
  check_refused(run_in(dir, "--cfg job '+x={a: 1, a: 2}'"), {"duplicate key 'a'", "override '+x={a: 1, a: 2}'"});
  write_file(dir + "/configs/editor/latin1.yaml", "plugin: scale\nnote: caf\xe9\n");
  check_refused(run_in(dir, "--cfg job editor=latin1"),
                {dir + "/configs/editor/latin1.yaml:2:10", "not valid UTF-8", "0xE9", "save the file as UTF-8"});
  write_file(dir + "/configs/editor/two_docs.yaml", "plugin: scale\n---\nfactor: 2.0\n");
  check_refused(run_in(dir, "--cfg job editor=two_docs"),
                {dir + "/configs/editor/two_docs.yaml:2:1", "second YAML document", "remove the '---' line"});
  // One document with explicit markers and UTF-8 text are fine.
  write_file(dir + "/configs/editor/marked.yaml", "---\nplugin: scale\nnote: caf\xc3\xa9\n...\n");
  auto fine = run_in(dir, "--cfg job editor=marked");
  check_ok(fine);
  CHECK(contains(fine.out, "note: caf\xc3\xa9"));
}

TEST_CASE("override values keep no trailing text after a complete value") {
  std::string dir = make_configs();
  check_refused(run_in(dir, "--cfg job \"seed='a'b'\""), {"override 'seed='a'b''", "text after a complete value"});
  check_refused(run_in(dir, "--cfg job 'seed=[1] 2'"),
                {"override 'seed=[1] 2'", "text after a complete value, at column 5", "quote the whole value"});
  check_refused(run_in(dir, "--cfg job 'seed=[1, 2'"), {"'[' at column 1", "never closed", "seed=[1, 2]"});
  check_refused(run_in(dir, "--cfg job 'seed=[1]]'"), {"']' at column 4", "closes nothing"});
  // Quoted text with spaces and an apostrophe inside a word are one value.
  auto fine = run_in(dir, "--cfg job \"+note=it's\" \"+title='a b'\"");
  check_ok(fine);
  CHECK(contains(fine.out, "note: it's"));
  CHECK(contains(fine.out, "title: a b"));
}

TEST_CASE("group options are names inside the group's folder") {
  std::string dir = make_configs();
  check_refused(run_in(dir, "--cfg job editor=../config"),
                {"option '../config' for config group 'editor'", "override 'editor=../config'", "no '..'",
                 "available options: scale", "editor=scale"});
  check_refused(run_in(dir, "--cfg job editor=/etc/passwd"), {"option '/etc/passwd'", "leading '/'"});
  check_refused(run_in(dir, "--cfg job editor=./scale"), {"option './scale'"});
  write_file(dir + "/configs/config2.yaml", "defaults:\n  - model: ../config\n");
  check_refused(run_in(dir, "--cfg job --config-name config2"),
                {"option '../config' for config group 'model'", "config2.yaml:2:"});
  // A file in a subfolder of the group is an option.
  write_file(dir + "/configs/editor/tuned/strong.yaml", "plugin: scale\nparameter: bigram.weight\nfactor: 9.0\n");
  auto fine = run_in(dir, "--cfg job editor=tuned/strong");
  check_ok(fine);
  CHECK(contains(fine.out, "factor: 9.0"));
}

TEST_CASE("an environment default may itself interpolate") {
  std::string dir = make_configs();
  auto nested = mike::test::run_command("MIKE_HOSTILE_UNSET= HOME=/home/someone timeout 20 " + std::string(MIKE_EXE) +
                                        " -q run --config-dir " + dir +
                                        "/configs --cfg job "
                                        "'+home=${oc.env:MIKE_HOSTILE_NOT_SET,${oc.env:HOME}}' "
                                        "'+spliced=${oc.env:MIKE_HOSTILE_NOT_SET,at ${oc.env:HOME}/x}'");
  check_ok(nested);
  CHECK(contains(nested.out, "home: /home/someone\n"));
  CHECK(contains(nested.out, "spliced: at /home/someone/x\n"));
  check_refused(
      run_in(dir, "--cfg job '+home=${oc.env:MIKE_HOSTILE_NOT_SET,${oc.env:MIKE_HOSTILE_NOT_SET_2}}'"),
      {"environment variable MIKE_HOSTILE_NOT_SET_2", "which is not set", "${oc.env:MIKE_HOSTILE_NOT_SET_2,default}"});
  check_refused(run_in(dir, "--cfg job '+x=${oc.env:MIKE_HOSTILE_NOT_SET,${oc.env:HOME}'"),
                {"'{' at column 2", "never closed"});
  check_refused(run_in(dir, "--cfg job '+x=${seed.${seed}}'"), {"key path built from another interpolation"});
}

TEST_CASE("host counts outside their range name the key, the value and the range") {
  std::string dir = make_configs();
  struct Case {
    const char* override_text;
    std::vector<std::string> words;
  };
  const Case cases[] = {
      {"eval.batch_size=0", {"config key 'eval.batch_size' is 0", "override 'eval.batch_size=0'", "from 1 to 4096"}},
      {"eval.batch_size=-3", {"config key 'eval.batch_size' is -3", "from 1 to 4096"}},
      {"+eval.top_k=0", {"config key 'eval.top_k' is 0", "from 1 to 1024"}},
      {"+eval.top_k=-1", {"config key 'eval.top_k' is -1", "from 1 to 1024"}},
      {"+eval.top_k=100000", {"config key 'eval.top_k' is 100000", "from 1 to 1024"}},
      {"eval.max_new_tokens=0", {"config key 'eval.max_new_tokens' is 0", "from 1 to 4096"}},
      {"eval.max_new_tokens=-1", {"config key 'eval.max_new_tokens' is -1", "from 1 to 4096"}},
      {"data.limit=-1", {"config key 'data.limit' is -1", "from 0 to", "0 = all"}},
      {"threads=-5", {"config key 'threads' is -5", "override 'threads=-5'", "from 0 to"}},
      {"threads=100000", {"config key 'threads' is 100000", "from 0 to", "4 per core"}},
      {"+protocol.checkpoints=[-5]",
       {"config key 'protocol.checkpoints' is [-5]", "each item must be an integer from 1"}},
      {"~protocol", {"no 'protocol' section", "protocol: {name: single}"}},
  };
  int index = 0;
  for (const Case& c : cases) {
    CAPTURE(c.override_text);
    const std::string out_dir = dir + "/run_" + std::to_string(index++);
    check_refused(run_in(dir, std::string("'") + c.override_text + "' out_dir=" + out_dir), c.words);
  }
  check_refused(run_in(dir, "-m seed=1,2 launcher.jobs=-1 out_dir=" + dir + "/sweep"),
                {"config key 'launcher.jobs' is -1", "from 1 to 1024", "-j N"});
  CHECK_FALSE(fs::exists(dir + "/sweep"));  // refused before any job dir is written
  check_refused(run_in(dir, "-m --dry-run -j 100000 seed=1,2"), {"-j 100000 is out of range", "from 1 to 1024"});
  // Slurm's numbers become sbatch directives: checked before the sweep is written too.
  write_file(dir + "/configs/launcher/slurm.yaml", "name: slurm\ncpus_per_task: 1\nmax_parallel: 0\n");
  for (const auto& [bad, words] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"launcher.max_parallel=-3", {"config key 'launcher.max_parallel' is -3", "from 0 to 1000000", "0 = no limit"}},
           {"launcher.cpus_per_task=0", {"config key 'launcher.cpus_per_task' is 0", "from 1 to 4096"}}}) {
    CAPTURE(bad);
    check_refused(run_in(dir, "-m seed=1,2 launcher=slurm " + bad + " out_dir=" + dir + "/slurm_sweep"), words);
    CHECK_FALSE(fs::exists(dir + "/slurm_sweep"));
  }
  // In range, the same keys run.
  check_ok(run_in(
      dir, "threads=0 eval.batch_size=1 +eval.top_k=1 eval.max_new_tokens=1 data.limit=1 out_dir=" + dir + "/run_ok"));
}
