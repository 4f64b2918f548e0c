// Hostile run directories through the executable (issue 18): `mike report`
// and `mike run --resume` on damaged or hand-edited files name the file, say
// what is wrong and how to go on, and never change what was written.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "process.h"

namespace fs = std::filesystem;
using mike::test::CommandResult;
using mike::test::read_file;
using mike::test::write_file;

namespace {

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

CommandResult mike_bounded(const std::string& args) {
  return mike::test::run_command("timeout 60 " + std::string(MIKE_EXE) + " " + args);
}

// A refusal: the given exit code, not a timeout, a signal or an internal error.
void check_refused(const CommandResult& r, int exit_code) {
  CHECK_MESSAGE(r.exit_code != 124, "timed out: " << r.err);
  CHECK_MESSAGE(r.exit_code < 124, "killed by a signal: " << r.err);
  CHECK_MESSAGE(r.exit_code == exit_code, r.err);
  CHECK_FALSE(contains(r.err, "internal error"));
}

// `mike run --resume DIR` with the fixture plugins.
std::string resume_args(const fs::path& run) {
  return std::string("run --plugin-path ") + MIKE_FIXTURE_PLUGIN_DIR + " --resume " + run.string();
}

// One finished run of the toy fixture model on a tiny world, made once.
const fs::path& finished_run() {
  static const fs::path dir = [] {
    const std::string root = mike::test::make_temp_dir("hostile_run");
    auto r = mike_bounded(std::string("-q run --config-dir ") + MIKE_SOURCE_DIR + "/configs --plugin-path " +
                          MIKE_FIXTURE_PLUGIN_DIR +
                          " model.plugin=toy ++model.initial_weights=true 'editor.layers=[]' "
                          "'editor.params=[bigram.weight]' editor.steps=1 data.limit=2 threads=1 data.dir=" + root +
                          "/world data.generate=new data.synth.entities=52 data.synth.image_size=16 "
                          "data.synth.images_per_entity=4 out_dir=" + root + "/run");
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return fs::path(root) / "run";
  }();
  return dir;
}

// A copy of the finished run the test may damage.
fs::path run_copy(const std::string& label) {
  fs::path dir = fs::path(mike::test::make_temp_dir(label)) / "run";
  fs::copy(finished_run(), dir, fs::copy_options::recursive);
  return dir;
}

}  // namespace

TEST_CASE("report on a malformed summary.json names the file and the key, not an internal error") {
  const fs::path run = run_copy("hostile_summary");
  const std::string file = (run / "summary.json").string();
  write_file(file, "{\"final\": {\"reliability.token_acc\": {\"pre\": {\"mean\": 0.1}, \"post\": {\"mean\": \"high\"}}}}");
  auto r = mike_bounded("report --no-plots " + run.string());
  check_refused(r, 3);
  CHECK(contains(r.err, file + ": key 'final.reliability.token_acc.post.mean' must be a number but is string"));
  CHECK(contains(r.err, "move summary.json aside and run `mike run --resume " + run.string() + "`"));

  write_file(file, "[1, 2]");
  r = mike_bounded("report --no-plots " + run.string());
  check_refused(r, 3);
  CHECK(contains(r.err, file + ": key '(top level)' must be an object but is array"));

  write_file(file, "{\"final\": {");
  r = mike_bounded("report --no-plots " + run.string());
  check_refused(r, 3);
  CHECK(contains(r.err, file + " is not valid JSON"));
}

TEST_CASE("report on a malformed overrides.yaml names the file and line and how to fix it") {
  const fs::path run = run_copy("hostile_overrides");
  const std::string file = (run / "overrides.yaml").string();
  write_file(file, "- editor.lr=0.5\n- [unclosed\n");
  auto r = mike_bounded("report --no-plots " + run.string());
  check_refused(r, 3);
  CHECK(contains(r.err, file + ":3:1: not the overrides list `mike run` writes"));
  CHECK(contains(r.err, "fix: restore it as a YAML list of key=value strings"));

  write_file(file, "- {editor.lr: 0.5}\n");  // a map where a string belongs
  r = mike_bounded("report --no-plots " + run.string());
  check_refused(r, 3);
  CHECK(contains(r.err, file + ":1:3: not the overrides list"));
}

TEST_CASE("--resume of a run dir without config.yaml says that config.yaml is missing") {
  const fs::path run = run_copy("hostile_no_config");
  fs::remove(run / "config.yaml");
  auto r = mike_bounded(resume_args(run));
  check_refused(r, 2);
  CHECK(contains(r.err, "looks like a run directory (it has status.yaml, overrides.yaml, mike.log, run.h5, "
                        "summary.json) but its config.yaml is missing"));
  CHECK(contains(r.err, "fix: restore config.yaml"));
  CHECK_FALSE(contains(r.err, "is not a sweep directory"));

  auto nowhere = mike_bounded("run --resume " + run.string() + "_nowhere");
  check_refused(nowhere, 2);
  CHECK(contains(nowhere.err, run.string() + "_nowhere' does not exist, so there is nothing to resume there"));
  CHECK(contains(nowhere.err, "start the run again without --resume"));
  CHECK_FALSE(contains(nowhere.err, "not a sweep directory"));
}

TEST_CASE("--resume trusts summary.json, not a status.yaml that says done") {
  const fs::path run = run_copy("hostile_status_done");
  fs::remove(run / "summary.json");  // half-finished: the summary was never written
  REQUIRE(contains(read_file((run / "status.yaml").string()), "state: done"));
  auto r = mike_bounded(resume_args(run));
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(contains(r.err, "status.yaml says done but there is no summary.json; continuing it from run.h5"));
  CHECK_FALSE(contains(r.err, "is already done"));
  CHECK(fs::exists(run / "summary.json"));
  auto again = mike_bounded(resume_args(run));
  CHECK(again.exit_code == 0);
  CHECK(contains(again.err, "is already done"));
}

TEST_CASE("a damaged run.h5 is named, kept as it is, and the way on is to move it aside") {
  const fs::path run = run_copy("hostile_h5");
  const std::string h5 = (run / "run.h5").string();
  fs::remove(run / "summary.json");
  std::string bytes = read_file(h5);
  // Overwrite everything after the superblock: the root group's B-tree is lost.
  for (std::size_t i = 96; i < bytes.size(); ++i) bytes[i] = static_cast<char>(0x5a);
  write_file(h5, bytes);
  auto r = mike_bounded(resume_args(run));
  check_refused(r, 3);
  CHECK(contains(r.err, h5 + " is damaged: HDF5 cannot read it"));
  CHECK(contains(r.err, "the file was left as it is"));
  CHECK(contains(r.err, "move it aside (e.g. `mv " + h5 + " " + h5 + ".damaged`"));
  CHECK(contains(r.err, "`mike run --resume " + run.string() + "` starts that run over"));
  CHECK(read_file(h5) == bytes);

  // Moved aside as told: the run starts over and finishes.
  fs::rename(h5, h5 + ".damaged");
  r = mike_bounded(resume_args(run));
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(fs::exists(run / "summary.json"));
  CHECK(read_file(h5 + ".damaged") == bytes);
}

TEST_CASE("a run killed before its first write: its empty run.h5 is named, and moved aside the run starts over") {
  // What a kill right after `mike run` prepared the folder leaves: config and
  // status, an empty run.h5 (created, never flushed), no edits.
  const fs::path run = run_copy("hostile_killed_early");
  fs::remove(run / "summary.json");
  fs::remove(run / "run.h5");
  std::ofstream(run / "run.h5").close();
  write_file((run / "status.yaml").string(), "state: running\n");
  auto r = mike_bounded(resume_args(run));
  check_refused(r, 3);
  CHECK(contains(r.err, (run / "run.h5").string() + " is empty: the run was killed before its first write"));
  CHECK(contains(r.err, "move it aside"));
  CHECK_FALSE(contains(r.err, "h5clear"));
  fs::rename(run / "run.h5", run / "run.h5.empty");
  r = mike_bounded(resume_args(run));
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(fs::exists(run / "summary.json"));
}
