#pragma once
// Dimensions of the native LLaVA-architecture model, read from the `model`
// config group (presets in configs/model/llava_*.yaml; defaults in
// default_config.yaml next to this file).
#include <cstdint>
#include <string>
#include <vector>

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
  // Hugging Face's `vision_feature_layer` as a list: these hidden states are
  // concatenated along the feature axis (empty = just `feature_layer`).
  std::vector<int> feature_layers;
  // `vision_feature_select_strategy`: "default" drops the class token, "full" keeps it.
  bool keep_class_token = false;
  std::string hidden_act = "quick_gelu";  // CLIP's; "gelu" for some fine-tunes
  double layer_norm_eps = 1e-5;
  int num_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
  // Features per image the projector receives: one per patch (+ the class token with "full").
  int image_tokens() const { return num_patches() + (keep_class_token ? 1 : 0); }
  // The hidden states that feed the projector, as indices into [embeddings, block 0 out, ...].
  std::vector<int> selected_states() const;
  // Width of the projector's input (hidden x number of selected states).
  int feature_width() const { return hidden * static_cast<int>(selected_states().size()); }
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
  // Set from a Hugging Face config: `head_dim` when it is not hidden/heads,
  // biases on the attention (`attention_bias`) and MLP (`mlp_bias`) projections,
  // and `tie_word_embeddings` (lm_head shares embed_tokens' weight).
  int explicit_head_dim = 0;
  bool attention_bias = false;
  bool mlp_bias = false;
  bool tie_word_embeddings = false;
  int head_dim() const { return explicit_head_dim > 0 ? explicit_head_dim : hidden / heads; }
};

struct ProjectorConfig {
  std::string act = "gelu";  // `projector_hidden_act`
  bool bias = true;          // `multimodal_projector_bias`
};

struct LlavaConfig {
  VisionConfig vision;
  LanguageConfig lm;
  ProjectorConfig projector;
  std::int64_t vocab_size = 0;  // from the tokenizer (native) or text_config.vocab_size (Hugging Face)
  std::string tokenizer;        // path to tokenizer.model ("" when `checkpoint` has one)
  std::string checkpoint;       // directory with model.safetensors, tokenizer.model, config.json
  std::uint64_t seed = 0;       // weight initialisation
  int eval_batch_size = 32;     // score/generate process inputs in chunks of this size
  // Budget of the image feature cache (image_feature_cache.h); 0 turns it off.
  int image_feature_cache_mb = 256;
  // Reuse the activations below the trained weights across an edit's steps.
  bool cache_below_edit = true;

  // `path`: a Hugging Face LLaVA-1.5 checkpoint directory as published
  // (config.json, model.safetensors or its index, tokenizer.model and the
  // tokenizer/preprocessor JSON files). Its config.json gives the dimensions.
  std::string hf_path;
  // The id reported for image positions in prompt ids (Hugging Face:
  // image_token_index; native: kImageTokenId). The embedding never sees it.
  std::int64_t image_token_id = -200;
  // Conversation template with one "{prompt}" (LLaVA-1.5: "USER: {prompt}
  // ASSISTANT:"); "" = the prompt as given. Raw inputs skip it.
  std::string prompt_template;
  // Put in front of a prompt that has an image but no "<image>" marker.
  std::string image_prefix = "<image>";
  std::string device = "cpu";    // "cpu", "cuda" or "cuda:N"
  std::string dtype = "float32"; // compute dtype: float32, float16, bfloat16
  bool is_hf() const { return !hf_path.empty(); }

  // Reads and validates the config; throws ConfigError naming the key.
  static LlavaConfig from_config(const Config& config);
  // The architecture as JSON (config.json of a checkpoint).
  std::string architecture_json() const;
};

// A native checkpoint directory's config.json against the architecture the
// config asks for (`expected`: architecture_json()). ModelError when it is
// unreadable, not JSON, or another architecture; `metadata_architecture` is
// the architecture stored in model.safetensors ("" when absent): with
// neither, nothing says what the weights are, which is refused too.
void check_checkpoint_architecture(const std::string& dir, const std::string& expected,
                                   const std::string& metadata_architecture);

}  // namespace mike::llava
