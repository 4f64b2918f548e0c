// `mike run` / `mike report` from the command line with the toy fixture
// model: a single run, --resume of a run dir, a 2-worker sweep and its report.
#include <doctest/doctest.h>

#include <filesystem>

#include "log/run_log.h"
#include "process.h"

namespace fs = std::filesystem;
using mike::test::run_mike;

namespace {
bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

// `lr` is its own argument: a sweep over editor.lr must not also set it (a
// key set twice is refused).
std::string base_args(const std::string& world, const std::string& lr = "editor.lr=0.5") {
  return std::string("run --config-dir ") + MIKE_SOURCE_DIR + "/configs --plugin-path " + MIKE_FIXTURE_PLUGIN_DIR +
         " model.plugin=toy ++model.initial_weights=true 'editor.layers=[]' 'editor.params=[bigram.weight]' " + lr +
         " editor.steps=10 data.dir=" + world +
         " data.generate=new data.limit=2 data.synth.entities=52 data.synth.image_size=16 data.synth.images_per_entity=4 threads=1";
}
}  // namespace

TEST_CASE("mike run writes a run dir; --resume of a finished run is a no-op; report tabulates it") {
  std::string root = mike::test::make_temp_dir("run_cli");
  auto r = run_mike(base_args(root + "/world") + " out_dir=" + root + "/run");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(contains(r.out, "reliability.token_acc"));
  for (const char* file : {"config.yaml", "overrides.yaml", "status.yaml", "mike.log", "run.h5", "summary.json"})
    CHECK(fs::exists(root + "/run/" + file));
  {
    // Every probe's generation is kept beside its metrics: 2 records, one reliability sample each.
    auto log = mike::RunLog::open_read_only(root + "/run/run.h5");
    auto reliability = log->read_generations("reliability");
    REQUIRE(reliability.size() == 2);
    CHECK(reliability[0].sample == 0);
    CHECK(!reliability[0].prompt.empty());
    CHECK(!reliability[0].answer.empty());
    CHECK(fs::exists(reliability[0].image));
    CHECK(log->read_generations("t_locality").size() == 2);
    CHECK(log->read_generations("t_locality")[0].image.empty());  // text-only probe
  }
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
  auto r = run_mike(base_args(root + "/world", "editor.lr=0.05,0.5") + " -m -j 2 out_dir=" + root + "/sweep");
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
  CHECK(contains(report.out, "## Paired comparisons"));  // two jobs on the same records are compared
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

TEST_CASE("the metric group is composed, swept and saved like an editor; too large a top_k is a config error") {
  std::string root = mike::test::make_temp_dir("metric_cli");
  // A user config folder over the repo's: one more option of the metric group.
  mike::test::write_file(root + "/configs/metric/top1.yaml",
                         "locality: {plugin: locality, top_k: 1}\n"
                         "probes: {vna: {t_locality: [locality], m_locality: [locality]}}\n");
  const std::string args = "run --config-dir " + root + "/configs " + base_args(root + "/world").substr(4);
  auto r = run_mike(args + " -m metric=default,top1 out_dir=" + root + "/sweep");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const std::string job0 = mike::test::read_file(root + "/sweep/0/config.yaml");
  const std::string job1 = mike::test::read_file(root + "/sweep/1/config.yaml");
  CHECK(contains(job0, "  locality:\n    top_k: 5\n    plugin: locality\n"));  // the plugin's default
  CHECK(contains(job1, "  locality:\n    top_k: 1\n    plugin: locality\n"));
  CHECK_FALSE(contains(job1, "edit_accuracy"));
  const std::string summary0 = mike::test::read_file(root + "/sweep/0/summary.json");
  const std::string summary1 = mike::test::read_file(root + "/sweep/1/summary.json");
  CHECK(contains(summary0, "\"reliability.token_acc\""));
  CHECK(contains(summary1, "\"t_locality.topk_agreement\""));
  CHECK_FALSE(contains(summary1, "\"reliability.token_acc\""));

  auto too_large = run_mike(base_args(root + "/world") + " metric.locality.top_k=8 out_dir=" + root + "/bad");
  CHECK(too_large.exit_code == 2);
  CHECK(contains(too_large.err, "metric.locality.top_k is 8 (from override 'metric.locality.top_k=8'), but the runner "
                                "keeps only eval.top_k = 5 top tokens per answer position (from " MIKE_SOURCE_DIR
                                "/configs/config.yaml:"));
  CHECK(contains(too_large.err, "; set eval.top_k=8 or lower metric.locality.top_k"));
  auto raised = run_mike(base_args(root + "/world") + " metric.locality.top_k=8 eval.top_k=8 out_dir=" + root + "/ok");
  CHECK_MESSAGE(raised.exit_code == 0, raised.err);
}

TEST_CASE("report of a multi-step run: scores per step and the last step paired with step 1") {
  std::string root = mike::test::make_temp_dir("run_cli_multi_step");
  auto r = run_mike(base_args(root + "/world") + " protocol=multi_step protocol.steps=2 out_dir=" + root + "/run");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto report = run_mike("report --no-plots " + root + "/run");
  REQUIRE_MESSAGE(report.exit_code == 0, report.err);
  INFO(report.out);
  CHECK(contains(report.out, "## Multi-step: scores per step, last step vs step 1"));
  CHECK(contains(report.out, "| step | Rel EM | T-Gen EM | I-Gen acc | I-Gen EM | T-Loc | M-Loc |"));
  CHECK(contains(report.out, "\n| 1 | "));
  CHECK(contains(report.out, "\n| 2 | "));
  CHECK_FALSE(contains(report.out, "\n| 3 | "));
  CHECK(contains(report.out, "### toy ft vna multi_step step 2 vs toy ft vna multi_step step 1"));
  // Paired over the run's 2 records (the same I-Gen images at both steps).
  CHECK(contains(report.out, "| 2 |\n| I-Gen EM |"));
  const auto i_gen = report.out.find("| I-Gen acc | ", report.out.find("step 2 vs"));
  REQUIRE(i_gen != std::string::npos);
  CHECK(report.out.substr(i_gen, report.out.find('\n', i_gen) - i_gen).find("not paired") == std::string::npos);

  // A single-protocol run has no per-step section.
  auto single = run_mike(base_args(root + "/world") + " out_dir=" + root + "/single");
  REQUIRE(single.exit_code == 0);
  CHECK_FALSE(contains(run_mike("report --no-plots " + root + "/single").out, "## Multi-step"));
}
