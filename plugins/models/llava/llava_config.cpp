// Reading and validating the llava config group.
#include "llava_config.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "hf_llava_config.h"
#include "mike/error.h"

namespace mike::llava {

namespace {

int positive(const Config& c, const std::string& key, int fallback) {
  const int v = c.get_or<int>(key, fallback);
  if (v <= 0) {
    const std::string full = c.path().empty() ? key : c.path() + "." + key;
    throw ConfigError("config key '" + full + "' must be a positive integer, got " + std::to_string(v) + " (from " +
                      c.origin(key) + ")");
  }
  return v;
}

[[noreturn]] void invalid(const Config& c, const std::string& key, const std::string& why) {
  const std::string full = c.path().empty() ? key : c.path() + "." + key;
  throw ConfigError("config key '" + full + "' " + why + " (from " + c.origin(key) + ")");
}

// "cpu", "cuda" or "cuda:N" (N a small device index).
bool is_device_name(const std::string& name) {
  if (name == "cpu" || name == "cuda") return true;
  if (name.rfind("cuda:", 0) != 0 || name.size() == 5 || name.size() > 8) return false;
  return name.find_first_not_of("0123456789", 5) == std::string::npos;
}

}  // namespace

std::vector<int> VisionConfig::selected_states() const {
  const int states = layers + 1;
  std::vector<int> out;
  for (int layer : feature_layers.empty() ? std::vector<int>{feature_layer} : feature_layers)
    out.push_back(layer < 0 ? states + layer : layer);
  return out;
}

LlavaConfig LlavaConfig::from_config(const Config& config) {
  LlavaConfig out;
  if (config.has("vision")) {
    const Config v = config.sub("vision");
    VisionConfig& d = out.vision;
    d.image_size = positive(v, "image_size", d.image_size);
    d.patch_size = positive(v, "patch_size", d.patch_size);
    d.hidden = positive(v, "hidden", d.hidden);
    d.layers = positive(v, "layers", d.layers);
    d.heads = positive(v, "heads", d.heads);
    d.intermediate = positive(v, "intermediate", d.intermediate);
    d.feature_layer = v.get_or<int>("feature_layer", d.feature_layer);
    d.layer_norm_eps = v.get_or<double>("layer_norm_eps", d.layer_norm_eps);
    if (d.image_size % d.patch_size != 0)
      invalid(v, "patch_size", "(" + std::to_string(d.patch_size) + ") must divide vision.image_size (" +
                                   std::to_string(d.image_size) + ")");
    if (d.hidden % d.heads != 0)
      invalid(v, "heads", "(" + std::to_string(d.heads) + ") must divide vision.hidden (" + std::to_string(d.hidden) + ")");
    if (d.feature_layer > d.layers || d.feature_layer < -(d.layers + 1))
      invalid(v, "feature_layer", "(" + std::to_string(d.feature_layer) + ") must index one of the " +
                                      std::to_string(d.layers + 1) + " hidden states (-" +
                                      std::to_string(d.layers + 1) + " .. " + std::to_string(d.layers) + ")");
  }
  if (config.has("lm")) {
    const Config l = config.sub("lm");
    LanguageConfig& d = out.lm;
    d.hidden = positive(l, "hidden", d.hidden);
    d.layers = positive(l, "layers", d.layers);
    d.heads = positive(l, "heads", d.heads);
    d.kv_heads = positive(l, "kv_heads", d.heads);
    d.intermediate = positive(l, "intermediate", d.intermediate);
    d.max_positions = positive(l, "max_positions", d.max_positions);
    d.rope_theta = l.get_or<double>("rope_theta", d.rope_theta);
    d.rms_norm_eps = l.get_or<double>("rms_norm_eps", d.rms_norm_eps);
    if (d.hidden % d.heads != 0 || d.head_dim() % 2 != 0)
      invalid(l, "heads", "(" + std::to_string(d.heads) + ") must divide lm.hidden (" + std::to_string(d.hidden) +
                              ") into an even head size (RoPE rotates pairs)");
    if (d.heads % d.kv_heads != 0)
      invalid(l, "kv_heads", "(" + std::to_string(d.kv_heads) + ") must divide lm.heads (" + std::to_string(d.heads) + ")");
  }
  out.tokenizer = config.get_or<std::string>("tokenizer", "");
  out.checkpoint = config.get_or<std::string>("checkpoint", "");
  out.hf_path = config.get_or<std::string>("path", "");
  const std::string format = config.get_or<std::string>("format", out.is_hf() ? "hugging_face" : "native");
  if (format != "native" && format != "hugging_face")
    invalid(config, "format", "is '" + format + "'; use native (mike's checkpoints) or hugging_face (model.path)");
  if (format == "hugging_face" && !out.is_hf())
    invalid(config, "path", "is not set; model.format hugging_face loads a Hugging Face LLaVA-1.5 checkpoint "
                            "directory: add model.path=DIR (the folder with config.json and model.safetensors)");
  if (format == "native" && out.is_hf())
    invalid(config, "format", "is native but model.path is set; model.path is for Hugging Face checkpoints "
                              "(use model=llava_hf, or model.checkpoint for a mike checkpoint)");
  if (out.is_hf()) {
    if (!out.checkpoint.empty())
      invalid(config, "checkpoint", "and model.path are both set; path loads a Hugging Face checkpoint, checkpoint a "
                                    "mike one: keep one of them");
    const HfArchitecture hf = read_hf_llava_config(out.hf_path);
    out.vision = hf.vision;
    out.lm = hf.lm;
    out.projector = hf.projector;
    out.vocab_size = hf.vocab_size;
    out.image_token_id = hf.image_token_index;
    // LLaVA-1.5's conversation (llava/conversation.py, conv_llava_v1 as the
    // Hugging Face model card prompts it).
    out.prompt_template = "USER: {prompt} ASSISTANT:";
    out.image_prefix = "<image>\n";
  }
  out.prompt_template = config.get_or<std::string>("prompt_template", out.prompt_template);
  out.image_prefix = config.get_or<std::string>("image_prefix", out.image_prefix);
  if (!out.prompt_template.empty()) {
    const auto first = out.prompt_template.find("{prompt}");
    if (first == std::string::npos || out.prompt_template.find("{prompt}", first + 1) != std::string::npos)
      invalid(config, "prompt_template", "must contain \"{prompt}\" exactly once (got \"" + out.prompt_template +
                                         "\"); e.g. \"USER: {prompt} ASSISTANT:\", or \"\" for none");
  }
  out.device = config.get_or<std::string>("device", out.device);
  if (!is_device_name(out.device))
    invalid(config, "device", "is '" + out.device + "'; use cpu, cuda or cuda:N");
  out.dtype = config.get_or<std::string>("dtype", out.dtype);
  if (out.dtype != "float32" && out.dtype != "float16" && out.dtype != "bfloat16")
    invalid(config, "dtype", "is '" + out.dtype + "'; use float32, float16 or bfloat16");
  // LibTorch's CPU kernels have no float16 matrix multiply.
  if (out.dtype == "float16" && out.device == "cpu")
    invalid(config, "dtype", "is float16 on the CPU, which LibTorch cannot multiply in; use float32 (or bfloat16) "
                             "on the CPU, or device=cuda");
  out.seed = static_cast<std::uint64_t>(config.get_or<std::int64_t>("seed", 0));
  out.eval_batch_size = positive(config, "eval_batch_size", out.eval_batch_size);
  out.image_feature_cache_mb = config.get_or<int>("image_feature_cache_mb", out.image_feature_cache_mb);
  if (out.image_feature_cache_mb < 0 || out.image_feature_cache_mb > 1048576)
    invalid(config, "image_feature_cache_mb", "is " + std::to_string(out.image_feature_cache_mb) +
                                                  "; give the cache's budget in MiB, 0 (off) .. 1048576");
  out.cache_below_edit = config.get_or<bool>("cache_below_edit", out.cache_below_edit);
  return out;
}

std::string LlavaConfig::architecture_json() const {
  std::ostringstream s;
  s << "{\n  \"architecture\": \"llava\",\n  \"vocab_size\": " << vocab_size << ",\n"
    << "  \"vision\": {\"image_size\": " << vision.image_size << ", \"patch_size\": " << vision.patch_size
    << ", \"hidden\": " << vision.hidden << ", \"layers\": " << vision.layers << ", \"heads\": " << vision.heads
    << ", \"intermediate\": " << vision.intermediate << ", \"feature_layer\": " << vision.feature_layer
    << ", \"layer_norm_eps\": " << vision.layer_norm_eps << "},\n"
    << "  \"lm\": {\"hidden\": " << lm.hidden << ", \"layers\": " << lm.layers << ", \"heads\": " << lm.heads
    << ", \"kv_heads\": " << lm.kv_heads << ", \"intermediate\": " << lm.intermediate
    << ", \"max_positions\": " << lm.max_positions << ", \"rope_theta\": " << lm.rope_theta
    << ", \"rms_norm_eps\": " << lm.rms_norm_eps << "}";
  // Fields a Hugging Face architecture may set; absent for native presets,
  // so checkpoints saved before they existed still match.
  std::ostringstream extra;
  if (!vision.feature_layers.empty()) {
    extra << ", \"vision_feature_layers\": [";
    for (std::size_t i = 0; i < vision.feature_layers.size(); ++i) extra << (i ? ", " : "") << vision.feature_layers[i];
    extra << "]";
  }
  if (vision.keep_class_token) extra << ", \"vision_keep_class_token\": true";
  if (vision.hidden_act != "quick_gelu") extra << ", \"vision_hidden_act\": \"" << vision.hidden_act << "\"";
  if (projector.act != "gelu") extra << ", \"projector_act\": \"" << projector.act << "\"";
  if (!projector.bias) extra << ", \"projector_bias\": false";
  if (lm.explicit_head_dim > 0) extra << ", \"lm_head_dim\": " << lm.explicit_head_dim;
  if (lm.attention_bias) extra << ", \"lm_attention_bias\": true";
  if (lm.mlp_bias) extra << ", \"lm_mlp_bias\": true";
  if (lm.tie_word_embeddings) extra << ", \"tie_word_embeddings\": true";
  if (!extra.str().empty()) s << ",\n  \"extra\": {" << extra.str().substr(2) << "}";
  s << "\n}\n";
  return s.str();
}

void check_checkpoint_architecture(const std::string& dir, const std::string& expected,
                                   const std::string& metadata_architecture) {
  const std::filesystem::path file = std::filesystem::path(dir) / "config.json";
  const auto fix = std::string("; use the model preset the checkpoint was trained with, or a checkpoint written by `mike "
                               "pretrain` (model.checkpoint=<its dir>)");
  if (!std::filesystem::exists(file)) {
    if (metadata_architecture.empty())
      throw ModelError("checkpoint '" + dir + "' has no config.json and its model.safetensors does not say which "
                       "architecture it holds, so its weights cannot be checked against the config" + fix);
    return;
  }
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) throw ModelError("cannot read '" + file.string() + "'; check its permissions");
  nlohmann::json found, wanted;
  try {
    found = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    throw ModelError("'" + file.string() + "' is not valid JSON (" + std::string(e.what()) +
                     "); the checkpoint is damaged" + fix);
  }
  wanted = nlohmann::json::parse(expected);
  if (found != wanted)
    throw ModelError("'" + file.string() + "' describes another architecture than the config asks for.\ncheckpoint:\n" +
                     found.dump(2) + "\nconfig:\n" + wanted.dump(2) + "\n" + fix.substr(2));
}

}  // namespace mike::llava
