// Reading and validating the llava config group.
#include "llava_config.h"

#include <sstream>

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

}  // namespace

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
  out.seed = static_cast<std::uint64_t>(config.get_or<std::int64_t>("seed", 0));
  out.eval_batch_size = positive(config, "eval_batch_size", out.eval_batch_size);
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
    << ", \"rms_norm_eps\": " << lm.rms_norm_eps << "}\n}\n";
  return s.str();
}

}  // namespace mike::llava
