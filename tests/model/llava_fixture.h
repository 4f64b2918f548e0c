#pragma once
// A tiny llava model for tests: a tokenizer trained on a few sentences and the
// smallest dimensions, created through the plugin registry like the runner does.
#include <torch/torch.h>
#undef CHECK

#include <memory>
#include <string>
#include <vector>

#include "mike/config.h"
#include "mike/model.h"
#include "mike/tokenizer.h"
#include "plugins/plugin_registry.h"
#include "process.h"

namespace mike::test {

inline const std::vector<std::string>& tiny_corpus() {
  static const std::vector<std::string> lines = [] {
    std::vector<std::string> out;
    const char* names[] = {"Zorvel", "Quintara", "Belmuth", "Akkodine", "Praxiel", "Morrow"};
    const char* kinds[] = {"bird", "building", "flower", "car", "dog", "tree"};
    for (const char* n : names)
      for (const char* k : kinds) {
        out.push_back(std::string("What is the name of this ") + k + "? It is " + n + ".");
        out.push_back(std::string("Describe the image: a ") + k + " called " + n + " on a plain background.");
      }
    return out;
  }();
  return lines;
}

// Path of a tokenizer.model trained once per test process.
inline const std::string& tiny_tokenizer_path() {
  static const std::string path = [] {
    TokenizerTrainOptions options;
    options.vocab_size = 320;
    const std::string file = make_temp_dir("llava_tokenizer") + "/tokenizer.model";
    Tokenizer::train(tiny_corpus(), options).save(file);
    return file;
  }();
  return path;
}

inline const PluginRegistry& build_registry() {
  static const PluginRegistry registry = [] {
    PluginRegistry r;
    r.discover({std::string(MIKE_BINARY_DIR) + "/lib/mike/plugins"});
    return r;
  }();
  return registry;
}

// Tiny dims (GQA on, two vision layers); `extra_yaml` adds/overrides top-level keys.
inline std::string tiny_model_yaml(const std::string& extra_yaml = "") {
  return "tokenizer: " + tiny_tokenizer_path() +
         "\nseed: 3\neval_batch_size: 4\n"
         "vision: {image_size: 16, patch_size: 8, hidden: 32, layers: 2, heads: 2, intermediate: 64, "
         "feature_layer: -2}\n"
         "lm: {hidden: 48, layers: 2, heads: 4, kv_heads: 2, intermediate: 96, max_positions: 128}\n" +
         extra_yaml;
}

inline std::shared_ptr<Model> make_tiny_model(const std::string& yaml = tiny_model_yaml()) {
  return build_registry().create_model("llava", Config::from_yaml(yaml, "tiny_model.yaml"));
}

// A deterministic test image [3, H, W] in [0, 1].
inline torch::Tensor test_image(int seed, int size = 20) {
  torch::manual_seed(1000 + seed);
  return torch::rand({3, size, size});
}

}  // namespace mike::test
