// The edit/evaluate runner end to end on a generated mini world with the toy
// fixture model and the ft editor: every protocol's log layout, restore
// checks, batch refusal, kill -9 + resume giving the same numbers, and the
// report of a finished run.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "data/synth.h"
#include "log/run_log.h"
#include "mike/error.h"
#include "process.h"
#include "report/report.h"
#include "run/experiment.h"
#include "system/memory_use.h"

namespace fs = std::filesystem;
using namespace mike;

namespace {

const std::string& world_dir() {
  static const std::string dir = [] {
    std::string d = test::make_temp_dir("runner_world");
    data::SynthOptions options;
    options.entities = 52;
    options.images_per_entity = 4;
    options.image_size = 16;
    options.known_fraction = 0.5;
    options.dev_fraction = 0.0;
    options.train_fraction = 0.0;
    data::generate_world(d, options);
    return d;
  }();
  return dir;
}

const std::string kFtEditor =
    "{plugin: ft, layers: [], params: [bigram.weight], steps: 15, lr: 0.5, weight_decay: 0.0, norm_constraint: 0.0, "
    "early_stop_loss: 0.0}";

// The metric group as configs/metric/default.yaml composes it for VNA.
const std::string kMetrics =
    "{edit_accuracy: {plugin: edit_accuracy}, locality: {plugin: locality, top_k: 5}, probes: {vna: "
    "{reliability: [edit_accuracy], t_generality: [edit_accuracy], i_generality: [edit_accuracy], "
    "t_locality: [locality], m_locality: [locality]}}}";

Config run_config(const std::string& protocol, int limit, const std::string& editor = kFtEditor,
                  const std::string& metric = kMetrics) {
  return Config::from_yaml("task: vna\nigen: augmented\nseed: 0\nthreads: 1\n"
                           "data: {format: mike, dir: '" + world_dir() + "', split: test, limit: " +
                           std::to_string(limit) + "}\n"
                           "model: {plugin: toy, init_scale: 0.1, seed: 1}\n"
                           "editor: " + editor + "\n"
                           "protocol: " + protocol + "\n"
                           "eval: {batch_size: 4, max_new_tokens: 8}\n" +
                           (metric.empty() ? std::string() : "metric: " + metric + "\n"),
                           "test config");
}

JobContext job(const std::string& label) {
  JobContext context;
  context.job_dir = test::make_temp_dir(label);
  context.plugin_paths = {MIKE_FIXTURE_PLUGIN_DIR};
  return context;
}

nlohmann::json summary_of(const JobContext& context) {
  std::ifstream in(context.job_dir / "summary.json");
  return nlohmann::json::parse(in);
}

std::string error_of(const Config& config, const std::string& label) {
  try {
    run_experiment(config, job(label));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no ConfigError)";
}

}  // namespace

TEST_CASE("single protocol: one unit per record, deltas logged, edits help reliability") {
  JobContext context = job("runner_single");
  run_experiment(run_config("{name: single}", 4), context);
  auto log = RunLog::resume(context.job_dir / "run.h5");
  CHECK(log->edit_count() == 4);
  CHECK(log->attribute("status") == "done");
  CHECK(log->attribute("config").find("plugin: ft") != std::string::npos);
  CHECK(log->weight_rows("bigram.weight") == 4);
  auto rel = log->read_metric("reliability.token_acc");
  CHECK(rel.size() == 4);
  auto loc = log->read_metric("t_locality.top1_agreement");
  CHECK(loc.size() == 4);
  for (const auto& row : loc) CHECK(row.pre == 1.0);  // the unedited model agrees with itself
  auto summary = summary_of(context);
  CHECK(summary["edits"] == 4);
  CHECK(summary["model_checkpoint"].is_null());  // the toy model runs on its initial weights
  CHECK(summary["protocol"] == "single");
  double pre = summary["final"]["reliability.token_acc"]["pre"]["mean"];
  double post = summary["final"]["reliability.token_acc"]["post"]["mean"];
  CHECK(post > pre + 0.3);  // fine-tuning on the target works on the toy model
  CHECK(summary["final"].contains("i_generality.exact_match"));
  CHECK(summary["final"].contains("m_locality.topk_agreement"));
}

TEST_CASE("sequential protocol evaluates all edited records at each checkpoint") {
  JobContext context = job("runner_sequential");
  run_experiment(run_config("{name: sequential, checkpoints: [1, 2]}", 4), context);
  auto log = RunLog::resume(context.job_dir / "run.h5");
  auto rows = log->read_metric("reliability.token_acc");
  REQUIRE(rows.size() == 1 + 2 + 4);  // checkpoints 1, 2 and the final 4
  CHECK(rows[0].checkpoint == 1);
  CHECK(rows[1].checkpoint == 2);
  CHECK(rows[3].checkpoint == 4);
  CHECK(rows[3].edit == 3);
  auto summary = summary_of(context);
  CHECK(summary["metrics"]["reliability.token_acc"].size() == 3);
}

TEST_CASE("multi_step edits one entity with successive images and evaluates after each step") {
  JobContext context = job("runner_multi_step");
  run_experiment(run_config("{name: multi_step, steps: 2}", 2), context);
  auto log = RunLog::resume(context.job_dir / "run.h5");
  CHECK(log->edit_count() == 4);
  auto rows = log->read_metric("reliability.token_acc");
  REQUIRE(rows.size() == 4);
  CHECK(rows[0].checkpoint == 1);
  CHECK(rows[1].checkpoint == 2);
  CHECK(rows[0].record_id == rows[1].record_id);
}

TEST_CASE("batch protocol edits k records at once; an editor that cannot batch says so") {
  JobContext context = job("runner_batch");
  run_experiment(run_config("{name: batch, batch_size: 2}", 4), context);
  auto log = RunLog::resume(context.job_dir / "run.h5");
  CHECK(log->edit_count() == 4);
  CHECK(log->weight_rows("bigram.weight") == 2);  // one delta per batch
  JobContext refused = job("runner_batch_refused");
  try {
    run_experiment(run_config("{name: batch, batch_size: 2}", 4, "{plugin: scale, parameter: bigram.weight, factor: 2.0}"), refused);
    FAIL("expected a refusal");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("editor 'scale' cannot edit 2 records at once; use protocol=single or "
                                     "protocol=sequential, or protocol.batch_size=1") != std::string::npos);
  }
}

TEST_CASE("batch protocol runs the short last batch when k does not divide the records") {
  JobContext context = job("runner_batch_short");
  run_experiment(run_config("{name: batch, batch_size: 2}", 5), context);
  auto log = RunLog::resume(context.job_dir / "run.h5");
  CHECK(log->edit_count() == 5);                   // 2 + 2 + 1: no record dropped
  CHECK(log->weight_rows("bigram.weight") == 3);   // one delta per batch, the last of one record
  auto rows = log->read_metric("reliability.token_acc");
  REQUIRE(rows.size() == 5);
  CHECK(rows[4].edit == 4);  // the short batch is the unit ending at edit 4
  CHECK(rows[4].record_id != rows[3].record_id);
  auto summary = summary_of(context);
  CHECK(summary["edits"] == 5);
  CHECK(summary["final"]["reliability.token_acc"]["post"]["records"] == 5);
}

TEST_CASE("restore is checked against parameter hashes taken before the edit, and by re-scoring for wrappers") {
  // An InPlaceEdit whose snapshot misses the parameter it changed: comparing
  // with that snapshot would pass; the hashes name the parameter.
  for (const char* protocol : {"{name: single}", "{name: sequential}", "{name: multi_step, steps: 2}"}) {
    CAPTURE(protocol);
    try {
      run_experiment(run_config(protocol, 2, "{plugin: leaky, leak: parameter}"), job("runner_leaky_parameter"));
      FAIL("expected the restore check to fail");
    } catch (const Error& e) {
      CHECK(std::string(e.what()) ==
            "editor 'leaky': after restore_original(), parameter 'bigram.weight' is not bitwise what it was before "
            "the edit; the editor changed a weight it did not give back, so results after this point would be "
            "contaminated; fix the editor's restore");
    }
  }
  // A wrapper that leaves a tap on the model: no parameter changed, but the
  // restore probe scores differently.
  try {
    run_experiment(run_config("{name: single}", 2, "{plugin: leaky, leak: tap}"), job("runner_leaky_tap"));
    FAIL("expected the restore check to fail");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("editor 'leaky': after restore_original(), the model scores probe "
                                     "'reliability' of record '") != std::string::npos);
    CHECK(std::string(e.what()).find("differently than before any edit") != std::string::npos);
  }
}

TEST_CASE("a run killed with SIGKILL resumes to the same final numbers") {
  const std::string protocol = "{name: sequential, checkpoints: [2, 4]}";
  JobContext reference = job("runner_reference");
  run_experiment(run_config(protocol, 6), reference);

  JobContext killed = job("runner_killed");
  int out[2];
  REQUIRE(pipe(out) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(out[0]);
    dup2(out[1], 1);
    dup2(out[1], 2);
    try {
      run_experiment(run_config(protocol, 6), killed);
    } catch (...) {
    }
    _exit(0);
  }
  close(out[1]);
  std::string seen;
  char buf[256];
  while (seen.find("2/6 edits") == std::string::npos) {
    ssize_t n = read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    seen.append(buf, static_cast<std::size_t>(n));
  }
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  close(out[0]);
  REQUIRE(seen.find("2/6 edits") != std::string::npos);
  CHECK_FALSE(fs::exists(killed.job_dir / "summary.json"));

  run_experiment(run_config(protocol, 6), killed);  // continues the run.h5 it finds
  auto a = summary_of(reference), b = summary_of(killed);
  CHECK(b["edits"] == 6);
  CHECK(a["metrics"] == b["metrics"]);  // every metric, every checkpoint, bitwise-equal aggregates
}

TEST_CASE("resuming with a different config is refused") {
  JobContext context = job("runner_resume_mismatch");
  run_experiment(run_config("{name: single}", 2), context);
  CHECK_THROWS_WITH(run_experiment(run_config("{name: single}", 3), context),
                    doctest::Contains("the composed config differs from the one the run started with"));
}

TEST_CASE("a job run in-process reports its own peak memory, not the largest of the work before it") {
  {
    // 400 MB touched and freed (an mmap'ed block: the kernel gets it back);
    // the sum is checked so the compiler cannot drop the writes.
    std::vector<char> earlier(400u << 20);
    for (std::size_t i = 0; i < earlier.size(); i += 4096) earlier[i] = 1;
    std::size_t touched = 0;
    for (std::size_t i = 0; i < earlier.size(); i += 4096) touched += static_cast<std::size_t>(earlier[i]);
    REQUIRE(touched == earlier.size() / 4096);
  }
  const std::int64_t process_peak = peak_rss_bytes();
  JobContext context = job("runner_peak_rss");
  run_experiment(run_config("{name: single}", 2), context);
  const nlohmann::json memory = summary_of(context).at("memory");
  if (memory.at("peak_rss_scope") == "process") {
    MESSAGE("/proc/self/clear_refs refused: summary.json reports the process's peak, and says so");
    CHECK(memory.at("peak_rss_bytes").get<std::int64_t>() >= process_peak);
    return;
  }
  CHECK(memory.at("peak_rss_scope") == "job");
  CHECK(memory.at("peak_rss_bytes").get<std::int64_t>() > 0);
  CHECK(memory.at("peak_rss_bytes").get<std::int64_t>() < process_peak - (300 << 20));
}

TEST_CASE("mike report turns a run into Markdown, CSV and gnuplot plots") {
  JobContext context = job("runner_report");
  run_experiment(run_config("{name: sequential, checkpoints: [1]}", 2), context);
  ReportFiles files = write_report(context.job_dir);
  CHECK(files.jobs == 1);
  std::string md = test::read_file(files.markdown.string());
  CHECK(md.find("| model | editor | task | protocol | Rel acc | Rel TF-EM | Rel EM |") != std::string::npos);
  CHECK(md.find("| T-Loc EasyEdit | M-Loc EasyEdit top-10 |") != std::string::npos);
  CHECK(md.find("| 1.000 → ") != std::string::npos);  // locality: pre (1 by construction) → post ± CI half-width
  CHECK(md.find("Paired comparisons") == std::string::npos);       // one run: nothing to compare
  CHECK(md.find("| toy | ft | vna | sequential |") != std::string::npos);
  // The decay table: each metric at every checkpoint, over the records edited by then.
  CHECK(md.find("## Sequential: post-edit means after 1 / 2 edits\n") != std::string::npos);
  CHECK(md.find("| job | Rel EM | T-Gen EM | I-Gen EM | T-Loc | M-Loc | M-Loc EasyEdit top-10 |") != std::string::npos);
  // The toy editor damages the bigram model more with every edit: locality after 1, then 2 edits.
  CHECK(md.find("| toy ft vna sequential | 0.00 / 0.00 | 0.00 / 0.00 | 0.00 / 0.00 | 0.60 / 0.25 | 0.67 / 0.11 |") !=
        std::string::npos);
  CHECK(test::read_file(files.csv.string()).find("toy,ft,vna,sequential,") != std::string::npos);
  REQUIRE(files.plots.size() == 4);  // bars + steps, SVG and PNG
  for (const auto& plot : files.plots) CHECK(fs::file_size(plot) > 1000);
  CHECK(test::read_file((context.job_dir / "report_bars.svg").string()).find("<svg") != std::string::npos);
  // Curves: a panel per metric, labels printed as written (no gnuplot subscripts
  // for ft_llm), a linear axis for checkpoints 1 and 2.
  const std::string steps = test::read_file((context.job_dir / "report_steps.gp").string());
  CHECK(steps.find("set multiplot layout 2,2") != std::string::npos);
  CHECK(steps.find("noenhanced") != std::string::npos);
  CHECK(steps.find("set title \"M-Loc\"") != std::string::npos);
  CHECK(steps.find("unset logscale x") != std::string::npos);
}

TEST_CASE("mike report compares runs on the same records and says when records differ") {
  const fs::path parent = test::make_temp_dir("runner_report_pairs");
  auto run_into = [&](const std::string& name, int limit) {
    JobContext context;
    context.job_dir = parent / name;
    fs::create_directories(context.job_dir);
    context.plugin_paths = {MIKE_FIXTURE_PLUGIN_DIR};
    run_experiment(run_config("{name: single}", limit), context);
  };
  run_into("a", 2);
  run_into("b", 2);  // the same run again: identical per-record values
  run_into("c", 3);  // one record more: not the same records
  ReportFiles files = write_report(parent, false);
  CHECK(files.jobs == 3);
  std::string md = test::read_file(files.markdown.string());
  CHECK(md.find("## Paired comparisons") != std::string::npos);
  CHECK(md.find("two-sided sign-flip permutation test on per-record differences (10000 sign flips)") !=
        std::string::npos);
  // a vs b: every metric differs by exactly 0, p = 1 after Holm too.
  CHECK(md.find(" | +0.000 [+0.000, +0.000] | 1.0000 | 1.0000 | 2 |") != std::string::npos);
  // Jobs the keys do not tell apart are named by their directory.
  CHECK(md.find("### toy ft vna single (a) vs toy ft vna single (b)\n") != std::string::npos);
  // a vs c and b vs c: 2 and 3 records, said once per pair.
  CHECK(md.find("### toy ft vna single (a) vs toy ft vna single (c)\n\nNot paired: not evaluated on the same "
                "records (2 and 3 records, 2 shared); a paired comparison needs runs on the same records.\n") !=
        std::string::npos);
  // Edit success and locality are two tables, each with the job keys.
  CHECK(md.find("| model | editor | task | protocol | T-Loc | M-Loc |") != std::string::npos);
  // Every report names the setting its numbers come from.
  CHECK(md.find("Setting: model toy, I-Gen variant augmented, world ") != std::string::npos);
  CHECK(files.table == md.substr(md.find("Setting: ")));  // the terminal shows the same setting and tables

  // --baseline: every job against the one named (by directory here, the
  // labels being equal), and no other pair.
  write_report(parent, false, "c");
  md = test::read_file(files.markdown.string());
  CHECK(md.find("### toy ft vna single (c) vs toy ft vna single (a)\n") != std::string::npos);
  CHECK(md.find("### toy ft vna single (c) vs toy ft vna single (b)\n") != std::string::npos);
  CHECK(md.find("(a) vs toy ft vna single (b)") == std::string::npos);
  // A name that is no single job is refused with the names there are.
  CHECK_THROWS_WITH_AS(write_report(parent, false, "toy ft vna single"),
                       doctest::Contains("--baseline 'toy ft vna single' names 3 jobs; fix: give one job's row "
                                         "label or directory: 'toy ft vna single' (a)"),
                       UsageError);
  CHECK_THROWS_WITH_AS(write_report(parent, false, "d"), doctest::Contains("--baseline 'd' names no job"), UsageError);
  CHECK_THROWS_WITH_AS(write_report(parent / "a", false, "a"), doctest::Contains("needs a sweep of two or more jobs"),
                       UsageError);
}

TEST_CASE("log.taps records activations per sample with an index back to the edit") {
  JobContext context = job("runner_taps");
  Config config = Config::from_yaml(run_config("{name: single}", 2).to_yaml() +
                                    "\nlog: {taps: [bigram.out], weights: false}\n");
  run_experiment(config, context);
  std::string script = "import h5py\nf = h5py.File('" + (context.job_dir / "run.h5").string() +
                       "', 'r')\n"
                       "a = f['activations/bigram.out']\n"
                       "assert a['values'].shape[1] == 256, a['values'].shape\n"
                       "assert set(a['edit'][:]) == {0, 1}, set(a['edit'][:])\n"
                       "assert a['values'].compression == 'gzip'\n"
                       "assert 'weights' in f and len(f['weights']) == 0\n"
                       "print(a['values'].shape[0])\n";
  test::write_file((context.job_dir / "check.py").string(), script);
  auto r = test::run_command("/usr/bin/python3 " + (context.job_dir / "check.py").string());
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(std::stoi(r.out) > 0);
  auto summary = summary_of(context);
  CHECK(summary["timing"]["log_s"].get<double>() > 0.0);
  CHECK(summary["timing"]["pre_eval_records_per_s"].get<double>() > 0.0);
}

TEST_CASE("the metrics of each probe come from metric.probes.<task>, each configured by its metric.<name>") {
  JobContext context = job("runner_metrics");
  // Only locality, with k = 1, under a name of our own: no other metric runs.
  run_experiment(run_config("{name: single}", 2, kFtEditor,
                            "{agree1: {plugin: locality, top_k: 1}, probes: {vna: {t_locality: [agree1]}}}"),
                 context);
  auto summary = summary_of(context);
  std::vector<std::string> names;
  for (const auto& [name, value] : summary["final"].items()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"t_locality.easyedit", "t_locality.easyedit_top10",
                                          "t_locality.top1_agreement", "t_locality.topk_agreement"});
  // With k = 1 the top-k agreement is the top-1 agreement, sample by sample.
  auto log = RunLog::resume(context.job_dir / "run.h5");
  auto top1 = log->read_metric("t_locality.top1_agreement");
  auto topk = log->read_metric("t_locality.topk_agreement");
  REQUIRE(top1.size() == 2);
  REQUIRE(topk.size() == 2);
  for (std::size_t i = 0; i < top1.size(); ++i) CHECK(top1[i].post == topk[i].post);
  CHECK(log->attribute("plugins").find("metric agree1 locality 1.1.0\n") != std::string::npos);
}

TEST_CASE("metric config errors name the key and the fix") {
  CHECK(error_of(run_config("{name: single}", 1, kFtEditor, "{locality: {plugin: locality, top_k: 6}, "
                                                              "probes: {vna: {m_locality: [locality]}}}"),
                 "metric_topk") ==
        "metric.locality.top_k is 6 (from test config:10:46), but the runner keeps only eval.top_k = 5 top tokens per "
        "answer position; set eval.top_k=6 or lower metric.locality.top_k");
  CHECK(error_of(run_config("{name: single}", 1, kFtEditor, "{probes: {vna: {t_locality: [locality]}}}"),
                 "metric_undeclared") ==
        "metric.probes.vna.t_locality (from test config:10:37) names metric 'locality', but there is no "
        "metric.locality section with a plugin; declared metrics: (none); use one of them or add "
        "+metric.locality={plugin: <metric plugin>}");
  CHECK(error_of(run_config("{name: single}", 1, kFtEditor,
                            "{locality: {plugin: locality, top_k: 5}, probes: {vna: {t_localty: [locality]}}}"),
                 "metric_probe") ==
        "metric.probes.vna.t_localty (from test config:10:76) is not a probe; the probes are reliability, "
        "t_generality, i_generality, t_locality, m_locality; fix the key");
  CHECK(error_of(run_config("{name: single}", 1, kFtEditor, ""), "metric_missing") ==
        "the config has no metric.probes.vna, so task 'vna' has no metrics; add `- metric: default` to the defaults "
        "list of the primary config (configs/metric/default.yaml), or set metric.probes.vna.<probe>=[<metric>, ...]");
}
