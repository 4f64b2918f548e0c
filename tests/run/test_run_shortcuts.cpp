// The run's shortcuts change no number: the llava image feature cache and
// greedy decoding seeded from the teacher-forced score
// (eval.reuse_teacher_forcing) give, on every probe of a VNA and an ELC run
// with the real model plugin and FT-LLM, exactly the metric rows of the run
// with both turned off. ELC's BLEU/ROUGE/mention read whole decoded captions,
// so equal rows mean equal generations.
#include <doctest/doctest.h>

#include <filesystem>

#include "log/run_log.h"
#include "process.h"

namespace fs = std::filesystem;
using mike::test::run_mike;

namespace {

std::string run_args(const std::string& world, const std::string& task) {
  return std::string("run -q --config-dir ") + MIKE_SOURCE_DIR + "/configs model=llava_xs ++model.initial_weights=true "
         "data.dir=" + world + " data.synth.entities=52 data.synth.image_size=32 data.synth.images_per_entity=6 "
         "data.limit=6 threads=1 task=" +
         task;
}

// Every metric row of a run, as "metric record edit pre post" lines.
std::vector<std::string> metric_rows(const fs::path& run_dir) {
  auto log = mike::RunLog::open_read_only(run_dir / "run.h5");
  std::vector<std::string> rows;
  for (const std::string& name : log->metric_names())
    for (const auto& row : log->read_metric(name))
      rows.push_back(name + " " + row.record_id + " " + std::to_string(row.edit) + " " + std::to_string(row.pre) + " " +
                     std::to_string(row.post));
  return rows;
}

double post_mean(const fs::path& run_dir, const std::string& metric) {
  auto log = mike::RunLog::open_read_only(run_dir / "run.h5");
  double sum = 0.0;
  const auto rows = log->read_metric(metric);
  for (const auto& row : rows) sum += row.post;
  return rows.empty() ? -1.0 : sum / static_cast<double>(rows.size());
}

}  // namespace

TEST_CASE("the image feature cache and seeded decoding leave every metric row of a VNA and an ELC run unchanged") {
  const std::string root = mike::test::make_temp_dir("run_shortcuts");
  const std::string world = root + "/world";
  // The first run makes the world (data.generate=new); the others read it.
  bool world_made = false;
  for (const std::string task : {"vna", "elc"}) {
    const fs::path fast = root + "/" + task + "_fast", slow = root + "/" + task + "_slow";
    auto a = run_mike(run_args(world, task) + (world_made ? "" : " data.generate=new") + " out_dir=" + fast.string());
    world_made = true;
    REQUIRE_MESSAGE(a.exit_code == 0, a.err);
    auto b = run_mike(run_args(world, task) + " model.image_feature_cache_mb=0 eval.reuse_teacher_forcing=false out_dir=" +
                      slow.string());
    REQUIRE_MESSAGE(b.exit_code == 0, b.err);
    const auto fast_rows = metric_rows(fast), slow_rows = metric_rows(slow);
    CHECK(fast_rows.size() > 30);
    CHECK(fast_rows == slow_rows);
    // The edits took: post-edit answers are predicted (most of) the way
    // through, the case where seeded decoding skips the most.
    CHECK(post_mean(fast, "reliability.token_acc") > 0.7);
    if (task == "vna") CHECK(post_mean(fast, "reliability.exact_match") > 0.3);
  }
}
