// Data-layer speed: `mike data synth` for the quick and the full world, with
// 1 and 2 threads (the goal: the default ~1,000-entity world in under
// 30 s on 2 cores), loading + validating the test split, and preprocessing
// an image batch to model input.
//
//   build/bin/bench_data                       # everything (~1 min)
//   build/bin/bench_data --benchmark_filter=Full
#include <benchmark/benchmark.h>

#include <torch/torch.h>

#include <filesystem>

#include "data/dataset.h"
#include "data/image_tensor.h"
#include "data/synth.h"

namespace fs = std::filesystem;
using namespace mike::data;

namespace {

fs::path scratch(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("mike_bench_data_" + name);
  fs::remove_all(dir);
  return dir;
}

void generate(benchmark::State& state, int entities) {
  SynthOptions options;
  options.entities = entities;
  options.threads = static_cast<int>(state.range(0));
  fs::path dir = scratch("synth_" + std::to_string(entities));
  SynthSummary summary;
  for (auto _ : state) {
    state.PauseTiming();
    fs::remove_all(dir);
    state.ResumeTiming();
    summary = generate_world(dir, options);
  }
  state.counters["images"] = summary.images;
  state.counters["records"] = summary.records;
  state.counters["MB_on_disk"] = static_cast<double>(summary.bytes) / 1e6;
  fs::remove_all(dir);
}

void BM_SynthQuickWorld(benchmark::State& state) { generate(state, 130); }
void BM_SynthFullWorld(benchmark::State& state) { generate(state, 1001); }

const fs::path& quick_world() {
  static const fs::path dir = [] {
    fs::path d = scratch("quick_world");
    generate_world(d, SynthOptions{});
    return d;
  }();
  return dir;
}

void BM_LoadTestSplitCheckingImages(benchmark::State& state) {
  std::size_t records = 0;
  (void)quick_world();  // generated once, outside the timing
  for (auto _ : state) records = load_dataset(quick_world(), "test", "mike").records.size();
  state.counters["records"] = static_cast<double>(records);
}

void BM_ValidateQuickWorld(benchmark::State& state) {
  (void)quick_world();
  for (auto _ : state) benchmark::DoNotOptimize(validate_dataset(quick_world(), "mike"));
}

void BM_ClipPreprocessBatch(benchmark::State& state) {
  Dataset test = load_dataset(quick_world(), "test", "mike");
  std::vector<fs::path> paths;
  for (const auto& r : test.records) paths.push_back(r.image);
  ImagePreprocess clip;
  clip.size = static_cast<int>(state.range(0));
  clip.normalization = kClipNormalization;
  for (auto _ : state) benchmark::DoNotOptimize(load_image_batch(paths, clip));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * paths.size()));
}

}  // namespace

BENCHMARK(BM_SynthQuickWorld)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SynthFullWorld)->Arg(1)->Arg(2)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK(BM_LoadTestSplitCheckingImages)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ValidateQuickWorld)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ClipPreprocessBatch)->Arg(64)->Arg(336)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
