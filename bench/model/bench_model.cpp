// bench_model: a timed CLI for the model plugin's inference throughput, per
// size preset, on VNA-style inputs (a world's test records: edit image + edit
// question, target = the entity name), with the preset's initial weights
// (throughput does not depend on what the weights know).
//   bench_model --world data/synth --presets llava_xs,llava_s,llava_m,llava_l --batch 16 --threads 2
// Each preset is composed from configs/ exactly as `mike run model=<preset>`
// does (primary config + group file + the plugin's defaults underneath).
// Per preset it prints:
//   score      teacher-forced score() of one batch: samples/s and LM positions/s
//              (image tokens + prompt + target, padding included);
//   generate   greedy generate() with the KV cache and without it (the
//              reference path): samples/s and new tokens/s (rows x decode
//              steps; a batch decodes until every row has stopped);
//   tap        the same score batch with no tap registered and with one no-op
//              tap on lm.layers.0.out, timed alternately (fastest call of
//              each); the difference is what one registered tap costs (an
//              unregistered one is a branch), next to an A/A control (two
//              untapped series) that shows the noise floor of the machine,
//              and a bound from the dispatch cost alone: tap points per
//              forward x ns per TapRegistry::apply() with a callback, as a
//              share of the untapped call (load-insensitive).
// Throughput figures are medians of per-call times.
#include <boost/program_options.hpp>
#include <torch/torch.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "config/composer.h"
#include "data/dataset.h"
#include "data/image_tensor.h"
#include "mike/config.h"
#include "mike/error.h"
#include "mike/model.h"
#include "mike/tokenizer.h"
#include "plugins/plugin_registry.h"
#include "pretrain/pretrainer.h"
#include "system/build_info.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Per-call seconds of `fn`: at least `min_calls` calls and until `min_seconds` have passed.
template <class Fn>
std::vector<double> call_times(double min_seconds, int min_calls, Fn&& fn) {
  std::vector<double> times;
  const auto start = Clock::now();
  do {
    const auto call = Clock::now();
    fn();
    times.push_back(seconds_since(call));
  } while (static_cast<int>(times.size()) < min_calls || seconds_since(start) < min_seconds);
  return times;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// LM positions a call processes, counted by a tap on the first LM layer's
// input (one counting call, untimed: the timed calls run without it).
struct Positions {
  std::int64_t forwards = 0, positions = 0;
};
template <class Fn>
Positions count_positions(mike::Model& model, Fn&& fn) {
  Positions p;
  mike::TapHandle tap = model.add_tap("lm.layers.0.in", [&](const std::string&, const torch::Tensor& x) {
    ++p.forwards;
    p.positions += x.size(0) * x.size(1);
    return x;
  });
  fn();
  return p;
}

// Nanoseconds per TapRegistry::apply() call (fastest of 5 runs of `calls`).
double apply_ns(const mike::TapRegistry& taps, const std::string& point, const torch::Tensor& x, int calls) {
  double best = 1e300;
  for (int run = 0; run < 5; ++run) {
    const auto start = Clock::now();
    std::int64_t sink = 0;
    for (int i = 0; i < calls; ++i) sink += taps.apply(point, x).numel();
    best = std::min(best, seconds_since(start) * 1e9 / calls);
    if (sink == 42) std::puts("");  // keeps the loop
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::string world, presets_list, config_dir, scratch;
  int batch_size = 16, max_new_tokens = 16, threads = 0, tap_rounds = 15;
  double min_seconds = 2.0;
  po::options_description desc("bench_model");
  desc.add_options()("help", "usage")
      ("world", po::value(&world)->default_value("data/synth"), "synthetic world folder (mike data synth)")
      ("presets", po::value(&presets_list)->default_value("llava_xs,llava_s,llava_m,llava_l"), "options of configs/model")
      ("config-dir", po::value(&config_dir)->default_value("configs"), "config directory the presets compose from")
      ("batch", po::value(&batch_size)->default_value(16), "samples per score()/generate() call")
      ("max-new-tokens", po::value(&max_new_tokens)->default_value(16), "generation budget")
      ("threads", po::value(&threads)->default_value(0), "LibTorch intra-op threads (0 = all cores)")
      ("min-seconds", po::value(&min_seconds)->default_value(2.0), "minimum timed seconds per measurement (median of the calls)")
      ("tap-rounds", po::value(&tap_rounds)->default_value(15), "alternating no-tap / tap score calls (fastest of each)")
      ("scratch", po::value(&scratch)->default_value("bench_scratch"), "folder for the tokenizer");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, desc), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  try {
    const int threads_used = mike::configure_threads(threads);
    // The tokenizer `mike pretrain` would train on this world.
    fs::create_directories(scratch);
    const std::string tokenizer = scratch + "/tokenizer.model";
    mike::train_corpus_tokenizer(mike::data::load_pretrain_corpus(world), {}, tokenizer);

    // VNA inputs: edit image + edit question, target = the new name.
    const auto records = mike::data::load_dataset(world, "test", "mike").records;
    if (records.empty()) throw mike::DataError(world + "/test.jsonl has no records");
    std::vector<mike::ScoreRequest> score_batch;
    std::vector<mike::ModelInput> generate_batch;
    for (int i = 0; i < batch_size; ++i) {
      const auto& r = records[static_cast<std::size_t>(i) % records.size()];
      mike::ModelInput input{r.src, mike::data::load_image_tensor(r.image)};
      score_batch.push_back({input, r.alt});
      generate_batch.push_back(input);
    }

    // The dispatch cost at one tap point, without any model around it: what
    // every forward pays per tap point in each state.
    double dispatch_ns = 0;
    {
      const torch::Tensor x = torch::zeros({16, 40, 128});
      const std::string point = "lm.layers.1.mlp.down_proj.in";
      mike::TapRegistry taps;
      const double none = apply_ns(taps, point, x, 1000000);
      mike::TapHandle elsewhere = taps.add("lm.layers.0.out", [](const std::string&, const torch::Tensor& t) { return t; });
      const double other = apply_ns(taps, point, x, 1000000);
      mike::TapHandle here = taps.add(point, [](const std::string&, const torch::Tensor& t) { return t; });
      dispatch_ns = apply_ns(taps, point, x, 1000000);
      std::printf("tap dispatch per tap point (TapRegistry::apply, fastest of 5 x 1e6 calls): no tap registered %.1f ns, "
                  "a tap registered at another point %.1f ns, a no-op callback at this point %.1f ns\n",
                  none, other, dispatch_ns);
    }

    mike::PluginRegistry registry;
    registry.discover(mike::PluginRegistry::default_search_path({}));
    std::printf("bench_model: world %s, batch %d, max_new_tokens %d, %d threads, >= %.1f s per measurement\n",
                world.c_str(), batch_size, max_new_tokens, threads_used, min_seconds);
    std::printf("%-9s %7s | %9s %9s | %9s %9s | %9s %9s %6s | %9s %9s %8s %8s %9s\n", "preset", "params", "score",
                "score", "gen kv", "gen kv", "gen nokv", "gen nokv", "kv", "no tap", "1 tap", "tap", "A/A", "dispatch");
    std::printf("%-9s %7s | %9s %9s | %9s %9s | %9s %9s %6s | %9s %9s %8s %8s %9s\n", "", "(M)", "sample/s", "pos/s",
                "sample/s", "tok/s", "sample/s", "tok/s", "speedup", "ms/batch", "ms/batch", "overhead", "noise", "bound");

    std::stringstream names(presets_list);
    for (std::string preset; std::getline(names, preset, ',');) {
      mike::ComposeRequest request;
      request.config_dir = config_dir;
      request.overrides = {"model=" + preset};
      request.plugin_defaults = [&registry](const std::string& group,
                                            const std::string& plugin) -> std::optional<mike::PluginDefaults> {
        const mike::PluginRecord* record = registry.find(group, plugin);
        if (!record) return std::nullopt;
        return mike::PluginDefaults{record->default_config, record->file};
      };
      const mike::Config root = mike::compose_config(request).config;
      YAML::Node model_node = YAML::Load(root.sub("model").to_yaml());
      model_node["tokenizer"] = tokenizer;
      model_node["checkpoint"] = YAML::Node(YAML::NodeType::Null);
      model_node["eval_batch_size"] = batch_size;  // one call = one batch
      YAML::Emitter emitted;
      emitted << model_node;
      auto model = registry.create_model(root.sub("model").get<std::string>("plugin"),
                                         mike::Config::from_yaml(emitted.c_str(), "configs/model/" + preset + ".yaml"));
      std::int64_t params = 0;
      for (const auto& name : model->parameter_names()) params += model->parameter(name).numel();

      mike::GenerateOptions kv, no_kv;
      kv.max_new_tokens = no_kv.max_new_tokens = max_new_tokens;
      no_kv.use_kv_cache = false;
      auto score = [&] { model->score(score_batch); };
      auto generate_kv = [&] { model->generate(generate_batch, kv); };
      auto generate_no_kv = [&] { model->generate(generate_batch, no_kv); };

      score();  // warm-up: allocator, image preprocessing paths
      const Positions score_pos = count_positions(*model, score);
      const Positions gen_pos = count_positions(*model, generate_kv);
      const std::int64_t new_tokens = static_cast<std::int64_t>(batch_size) * gen_pos.forwards;  // prefill emits one

      // Medians: robust to the odd call slowed by another process on a shared machine.
      const double score_s = median(call_times(min_seconds, 3, score));
      const double kv_s = median(call_times(min_seconds, 3, generate_kv));
      const double no_kv_s = median(call_times(min_seconds, 1, generate_no_kv));

      // One call each, alternating, with the order swapped every round, so
      // load changes and order effects hit both sides alike; the fastest call
      // of each side is the least disturbed one. A second untapped series
      // (A/A) shows how large a difference noise alone makes.
      std::vector<double> untapped, tapped, control;
      auto untapped_call = [&] { untapped.push_back(call_times(0.0, 1, score)[0]); };
      auto control_call = [&] { control.push_back(call_times(0.0, 1, score)[0]); };
      auto tapped_call = [&] {
        mike::TapHandle tap =
            model->add_tap("lm.layers.0.out", [](const std::string&, const torch::Tensor& x) { return x; });
        tapped.push_back(call_times(0.0, 1, score)[0]);
      };
      for (int round = 0; round < tap_rounds; ++round) {
        if (round % 2 == 0) {
          untapped_call();
          tapped_call();
          control_call();
        } else {
          control_call();
          tapped_call();
          untapped_call();
        }
      }
      const auto fastest = [](const std::vector<double>& v) { return 1e3 * *std::min_element(v.begin(), v.end()); };
      const double untapped_ms = fastest(untapped), tapped_ms = fastest(tapped), control_ms = fastest(control);
      // Upper bound of what one registered tap adds to a score call: every
      // tap point of the forward (one forward per call) at the no-op-callback cost.
      const double dispatch_bound_ms = 1e-6 * dispatch_ns * static_cast<double>(model->tap_names().size());

      std::printf("%-9s %7.2f | %9.1f %9.0f | %9.1f %9.0f | %9.2f %9.0f %5.1fx | %9.2f %9.2f %+7.1f%% %+7.1f%% %8.5f%%\n",
                  preset.c_str(), params / 1e6, batch_size / score_s, score_pos.positions / score_s, batch_size / kv_s,
                  new_tokens / kv_s, batch_size / no_kv_s, new_tokens / no_kv_s, no_kv_s / kv_s, untapped_ms, tapped_ms,
                  100.0 * (tapped_ms - untapped_ms) / untapped_ms, 100.0 * (control_ms - untapped_ms) / untapped_ms,
                  100.0 * dispatch_bound_ms / untapped_ms);
      std::fflush(stdout);
    }
  } catch (const mike::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return e.exit_code();
  }
  return 0;
}
