// Speed goal (issue #4): `mike run -m ... --dry-run` of a 10,000-job sweep in
// under 2 s. Measures the whole CLI (process start, plugin discovery,
// composition of the checked jobs, expansion, printing) and, separately, the
// in-process expansion + formatting of the job list.
//   build/bin/bench_sweep_dry_run [--benchmark_repetitions=3]
#include <benchmark/benchmark.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "sweep/sweep_plan.h"

namespace fs = std::filesystem;

namespace {

// configs/ with one group (4 options) and two numeric keys.
std::string make_config_dir() {
  fs::path dir = fs::temp_directory_path() / ("mike_bench_sweep_" + std::to_string(::getpid()));
  fs::create_directories(dir / "editor");
  std::ofstream(dir / "config.yaml") << "defaults:\n  - editor: a\n  - _self_\nseed: 0\nlayer: 0\nlr: 0.1\n";
  for (const char* option : {"a", "b", "c", "d"}) std::ofstream(dir / "editor" / (std::string(option) + ".yaml")) << "lr: 1\n";
  return dir.string();
}

void BM_CliDryRun10kJobs(benchmark::State& state) {
  std::string dir = make_config_dir();
  // 4 editors x 50 layers x 50 seeds = 10,000 jobs.
  std::string command = std::string(MIKE_EXE) + " -q run --config-dir " + dir +
                        " -m 'editor=glob(*)' 'layer=range(0,50)' 'seed=range(0,50)' --dry-run > " + dir +
                        "/jobs.txt 2>" + dir + "/stderr.txt";
  for (auto _ : state) {
    int status = std::system(command.c_str());
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      state.SkipWithError("mike run --dry-run failed; see stderr.txt in its config dir");
      break;
    }
  }
  std::ifstream jobs(dir + "/jobs.txt");
  std::string line, last;
  std::int64_t lines = 0;
  while (std::getline(jobs, line)) {
    ++lines;
    last = line;
  }
  state.counters["jobs"] = static_cast<double>(lines);
  if (lines != 10000) state.SkipWithError(("expected 10000 job lines, got " + std::to_string(lines)).c_str());
  fs::remove_all(dir);
}
BENCHMARK(BM_CliDryRun10kJobs)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_ExpandAndFormat10kJobs(benchmark::State& state) {
  auto options = [](const std::string& group) {
    return group == "editor" ? std::vector<std::string>{"a", "b", "c", "d"} : std::vector<std::string>{};
  };
  for (auto _ : state) {
    mike::SweepPlan plan =
        mike::plan_sweep({"editor=glob(*)", "layer=range(0,50)", "seed=range(0,50)"}, YAML::Node(), "", options);
    std::string out;
    for (std::size_t i = 0; i < plan.job_count(); ++i) {
      out += std::to_string(i);
      out += ": ";
      plan.append_job_line(i, out);
      out += '\n';
    }
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_ExpandAndFormat10kJobs)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
