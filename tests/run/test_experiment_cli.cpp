// `mike run` / `mike report` from the command line with the toy fixture
// model: a single run, --resume of a run dir, a 2-worker sweep and its report.
#include <doctest/doctest.h>

#include <filesystem>

#include "process.h"

namespace fs = std::filesystem;
using mike::test::run_mike;

namespace {
bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

std::string base_args(const std::string& world) {
  return std::string("run --config-dir ") + MIKE_SOURCE_DIR + "/configs --plugin-path " + MIKE_FIXTURE_PLUGIN_DIR +
         " model.plugin=toy ++model.initial_weights=true 'editor.layers=[]' 'editor.params=[bigram.weight]' editor.lr=0.5 editor.steps=10 data.dir=" + world +
         " data.limit=2 data.synth.entities=52 data.synth.image_size=16 data.synth.images_per_entity=4 threads=1";
}
}  // namespace

TEST_CASE("mike run writes a run dir; --resume of a finished run is a no-op; report tabulates it") {
  std::string root = mike::test::make_temp_dir("run_cli");
  auto r = run_mike(base_args(root + "/world") + " out_dir=" + root + "/run");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(contains(r.out, "reliability.token_acc"));
  for (const char* file : {"config.yaml", "overrides.yaml", "status.yaml", "mike.log", "run.h5", "summary.json"})
    CHECK(fs::exists(root + "/run/" + file));
  auto again = run_mike("run --resume " + root + "/run");
  CHECK(again.exit_code == 0);
  CHECK(contains(again.err, "is already done"));
  auto report = run_mike("report --no-plots " + root + "/run");
  CHECK(report.exit_code == 0);
  CHECK(contains(report.out, "| toy | ft | vna | single |"));
}

TEST_CASE("a sweep over the learning rate runs in 2 workers and reports one row per job") {
  std::string root = mike::test::make_temp_dir("sweep_cli");
  // Make the world once so the two workers do not both generate it.
  REQUIRE(run_mike(base_args(root + "/world") + " out_dir=" + root + "/warmup").exit_code == 0);
  auto r = run_mike(base_args(root + "/world") + " -m -j 2 editor.lr=0.05,0.5 out_dir=" + root + "/sweep");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  fs::path sweep = root + "/sweep";
  REQUIRE(fs::exists(sweep / "0" / "summary.json"));
  REQUIRE(fs::exists(sweep / "1" / "summary.json"));
  auto report = run_mike("report " + sweep.string());
  CHECK_MESSAGE(report.exit_code == 0, report.err);
  CHECK(contains(report.out, "| editor.lr |"));
  CHECK(contains(report.out, "| 0.05 |"));
  CHECK(contains(report.out, "| 0.5 |"));
  CHECK(contains(report.out, "2 job(s)"));
  CHECK(fs::exists(sweep / "report_bars.png"));
}

TEST_CASE("run errors: unknown model plugin and a missing dataset dir are one clear line each") {
  std::string root = mike::test::make_temp_dir("run_cli_errors");
  auto r = run_mike(base_args(root + "/world") + " model.plugin=nonexistent out_dir=" + root + "/bad");
  CHECK(r.exit_code != 0);
  CHECK(contains(r.err, "no model plugin named 'nonexistent'"));
  auto d = run_mike(base_args(root + "/world") + " data.format=mmedit data.dir=" + root + "/nowhere out_dir=" + root +
                    "/bad2");
  CHECK(d.exit_code != 0);
  CHECK(contains(d.err, root + "/nowhere"));
}
