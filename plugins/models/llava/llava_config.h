#pragma once
// Dimensions of the native LLaVA-architecture model, read from the `model`
// config group (presets in configs/model/llava_*.yaml; defaults in
// default_config.yaml next to this file).
#include <cstdint>
#include <string>

#include "mike/config.h"

namespace mike::llava {

struct VisionConfig {
  int image_size = 32;     // input images are resized to image_size x image_size
  int patch_size = 8;
  int hidden = 64;
  int layers = 2;
  int heads = 4;
  int intermediate = 256;  // quick-GELU MLP width
  // Which hidden state feeds the projector, as an index into [embeddings,
  // layer 0 out, ..., layer L-1 out]; negative counts from the end
  // (LLaVA-1.5 uses -2, the penultimate layer). Layers past it never run.
  int feature_layer = -1;
  double layer_norm_eps = 1e-5;
  int num_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
};

struct LanguageConfig {
  int hidden = 128;
  int layers = 2;
  int heads = 4;
  int kv_heads = 4;        // < heads = grouped-query attention
  int intermediate = 344;  // SwiGLU width
  int max_positions = 512;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-5;
  int head_dim() const { return hidden / heads; }
};

struct LlavaConfig {
  VisionConfig vision;
  LanguageConfig lm;
  std::int64_t vocab_size = 0;  // from the tokenizer
  std::string tokenizer;        // path to tokenizer.model ("" when `checkpoint` has one)
  std::string checkpoint;       // directory with model.safetensors, tokenizer.model, config.json
  std::uint64_t seed = 0;       // weight initialisation
  int eval_batch_size = 32;     // score/generate process inputs in chunks of this size

  // Reads and validates the config; throws ConfigError naming the key.
  static LlavaConfig from_config(const Config& config);
  // The architecture as JSON (config.json of a checkpoint).
  std::string architecture_json() const;
};

}  // namespace mike::llava
