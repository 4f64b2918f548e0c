// bench_editors: a timed CLI for the editor plugins on a model preset with
// random weights (timing does not depend on what the weights know).
//   bench_editors --world data/synth --model configs/model/llava_xs.yaml --edits 5
// Prints, per editor, seconds per edit (mean over --edits single edits, each
// restored; editors that batch independent edits prepare them ahead, as the
// runner does, timed with them), the LM forward passes one edit costs (a tap on the top LM block;
// generation counts one per decoded token) and how many of them were
// differentiable passes (loss or log-probabilities) followed by a backward pass, and the time to build the
// layer statistics C of one layer from the world's pretrain.jsonl (cold, no cache),
// and each editor's peak memory: how far the resident set rose above what
// was resident before it (the model and the world) while it was built, fitted
// and made its edits (system/memory_use: VmHWM reset per editor).
#include <boost/program_options.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "data/dataset.h"
#include "data/dataset_corpus.h"
#include "data/image_tensor.h"
#include "mike/config.h"
#include "layer_stats.h"
#include "mike/editor.h"
#include "mike/tokenizer.h"
#include "plugins/plugin_registry.h"
#include "pretrain/pretrainer.h"
#include "system/build_info.h"
#include "system/memory_use.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

class QuietProgress : public mike::FitProgress {
 public:
  void update(std::int64_t, std::int64_t, const std::string&) override {}
};

// Counts differentiable passes: loss() and target_log_probs() calls made with
// gradients on (every editor here follows each with a backward pass; a
// no-grad call, e.g. the loss measured after the last step, is not one).
class CountingModel : public mike::ForwardingModel {
 public:
  using ForwardingModel::ForwardingModel;
  torch::Tensor loss(const std::vector<mike::ScoreRequest>& batch) override {
    if (torch::GradMode::is_enabled()) ++losses;
    return inner_.loss(batch);
  }
  torch::Tensor target_log_probs(const std::vector<mike::ScoreRequest>& batch) override {
    if (torch::GradMode::is_enabled()) ++losses;
    return inner_.target_log_probs(batch);
  }
  std::int64_t losses = 0;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The bench's edits as a train split: each edit's in-scope input is another
// photo of its entity with the same question (when the world has one), its
// out-of-scope input a third entity's photo with its own answer, so
// every trained editor (serac's scope classifier needs both kinds) can fit.
std::vector<mike::TrainingEdit> bench_training_edits(const std::vector<mike::EditRequest>& requests,
                                                     const std::vector<const mike::data::PretrainRecord*>& named) {
  std::vector<mike::TrainingEdit> training;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const mike::EditRequest& r = requests[i];
    mike::TrainingEdit t{r, {}, {}};
    for (const mike::data::PretrainRecord* other : named)
      if (other->entity_id == r.entity && other->image != named[i % named.size()]->image) {
        t.in_scope.push_back({{r.input.prompt, mike::data::load_image_tensor(other->image)}, r.target});
        break;
      }
    const mike::data::PretrainRecord& unrelated = *named[(i + 2) % named.size()];  // i + 1 lent its name as the target
    t.out_of_scope.push_back({{unrelated.prompt, mike::data::load_image_tensor(unrelated.image)}, unrelated.answer});
    training.push_back(std::move(t));
  }
  return training;
}

}  // namespace

int main(int argc, char** argv) {
  std::string world, model_file, editors_list, scratch;
  int edits = 5;
  int threads = 1;
  bool prepare = true;
  po::options_description desc("bench_editors");
  desc.add_options()("help", "usage")
      ("world", po::value(&world)->default_value("data/synth"), "synthetic world folder (mike data synth)")
      ("model", po::value(&model_file)->default_value("configs/model/llava_xs.yaml"), "model preset")
      ("editors", po::value(&editors_list)->default_value("ft,lora,ike,rome,memit,alphaedit"), "comma-separated")
      ("edits", po::value(&edits)->default_value(5), "edits timed per editor")
      ("scratch", po::value(&scratch)->default_value("bench_scratch"), "folder for the tokenizer and caches")
      ("threads", po::value(&threads)->default_value(1), "LibTorch and OpenBLAS threads (0 = one per core)")
      ("prepare", po::value(&prepare)->default_value(true),
       "let editors that batch independent edits prepare them ahead, as `mike run`'s single protocol does "
       "(Editor::prepare_independent_edits; timed with the edits)");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, desc), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  try {
    std::printf("threads %d\n", mike::configure_threads(threads));
    const auto corpus = mike::data::load_pretrain_corpus(world);
    std::vector<const mike::data::PretrainRecord*> named;
    for (const auto& r : corpus)
      if (r.kind == "name" && !r.image.empty()) named.push_back(&r);
    if (named.size() < 2) throw mike::DataError(world + "/pretrain.jsonl has fewer than 2 'name' records with images");
    fs::create_directories(scratch);
    const std::string tokenizer = scratch + "/tokenizer.model";
    mike::train_corpus_tokenizer(corpus, {}, tokenizer);  // as `mike pretrain` tokenizes this world

    mike::PluginRegistry registry;
    registry.discover(mike::PluginRegistry::default_search_path({}));
    const std::string model_yaml = read_file(model_file) + "\ntokenizer: " + tokenizer + "\n";
    auto model = registry.create_model("llava", mike::Config::from_yaml(model_yaml, model_file));

    // Counterfactual edits: each named entity's image gets the next entity's name.
    std::vector<mike::EditRequest> requests;
    for (int i = 0; i < edits; ++i) {
      const auto& r = *named[static_cast<std::size_t>(i) % named.size()];
      const auto& other = *named[(static_cast<std::size_t>(i) + 1) % named.size()];
      requests.push_back({"e" + std::to_string(i), r.entity_id, {r.prompt, mike::data::load_image_tensor(r.image)},
                          other.answer, 0});
    }

    {
      const auto start = std::chrono::steady_clock::now();
      const mike::locate_edit::LayerStats stats = mike::locate_edit::layer_second_moment(
          *model, mike::edit_site(*model, 1, "bench layer").input_tap,
          *mike::data::dataset_corpus_source()->open(world, 0), "");
      std::printf("layer statistics (lm layer 1, %zu records, %lld tokens): %.2f s\n", corpus.size(),
                  static_cast<long long>(stats.tokens), seconds_since(start));
    }

    std::printf("resident before the editors: %.1f MB\n", static_cast<double>(mike::resident_bytes()) / (1 << 20));
    std::printf("%-10s %9s %12s %14s %15s %9s %13s\n", "editor", "fit s", "s/edit", "forwards/edit", "grad passes/edit",
                "prepared", "peak +RSS MB");
    bool rss_exact = true;
    std::stringstream names(editors_list);
    for (std::string name; std::getline(names, name, ',');) {
      const mike::PluginRecord* record = registry.find("editor", name);
      if (!record) throw mike::PluginError("no editor plugin named '" + name + "'");
      std::string yaml = record->default_config;
      const std::string corpus_key = "corpus: ${data.dir}";
      if (yaml.find(corpus_key) != std::string::npos)
        yaml.replace(yaml.find(corpus_key), corpus_key.size(), "corpus: " + world);
      const std::string cache_key = "cache_dir: cache/layer_stats";
      if (yaml.find(cache_key) != std::string::npos)
        yaml.replace(yaml.find(cache_key), cache_key.size(), "cache_dir: " + scratch + "/layer_stats");
      double fit_s = 0.0, per_edit = 0.0;
      std::int64_t forwards = 0, grad_passes = 0;
      std::size_t window = 0;
      const mike::RssGrowth memory = mike::peak_rss_growth([&] {
        auto editor = registry.create_editor(name, mike::Config::from_yaml(yaml, name + ".yaml"));
        // Editors that learn from a train split (ike's demonstrations, mend's
        // network, serac's scope classifier) get the bench's edits; timed
        // apart from the edits, as a run fits once (and a trained editor's
        // fit is cached across runs).
        if (editor->fit_use() != mike::FitUse::none) {
          const std::vector<mike::TrainingEdit> training = bench_training_edits(requests, named);
          QuietProgress quiet;
          const auto fit_start = std::chrono::steady_clock::now();
          editor->fit(*model, training, quiet);
          fit_s = seconds_since(fit_start);
        }
        editor->edit(*model, {requests[0]})->restore_original();  // warm-up: statistics, allocations

        forwards = 0;  // LM forward passes of any kind (score, loss, generate steps)
        // Counted at the top block's output, which every forward reaches: a tap
        // lower down would keep the model from resuming edit steps above it.
        const std::string top = "lm.layers." + std::to_string(model->edit_sites().size() - 1) + ".out";
        mike::TapHandle count = model->add_tap(top, [&](const std::string&, const torch::Tensor& x) {
          ++forwards;
          return x;
        });
        CountingModel counting(*model);
        window = prepare ? editor->independent_edit_window() : 0;
        const auto start = std::chrono::steady_clock::now();
        for (std::size_t i = 0; i < requests.size(); ++i) {
          if (window > 0 && i % window == 0) {
            const auto end = requests.begin() + static_cast<std::ptrdiff_t>(std::min(requests.size(), i + window));
            editor->prepare_independent_edits(counting, {requests.begin() + static_cast<std::ptrdiff_t>(i), end});
          }
          editor->edit(counting, {requests[i]})->restore_original();
        }
        per_edit = seconds_since(start) / edits;
        count.reset();
        grad_passes = counting.losses;
      });
      rss_exact = rss_exact && memory.exact;
      std::printf("%-10s %9.2f %12.4f %14.1f %15.1f %9s %13.1f\n", name.c_str(), fit_s, per_edit,
                  static_cast<double>(forwards) / edits, static_cast<double>(grad_passes) / edits,
                  window > 0 ? "yes" : "no", static_cast<double>(memory.bytes) / (1 << 20));
    }
    if (!rss_exact) std::printf("(peak +RSS sampled every ms: /proc/self/clear_refs refused, so it can under-read)\n");
  } catch (const mike::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return e.exit_code();
  }
  return 0;
}
