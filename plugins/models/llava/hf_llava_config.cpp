// Reading a Hugging Face LLaVA-1.5 config.json (transformers' LlavaConfig,
// CLIPVisionConfig, LlamaConfig defaults).
#include "hf_llava_config.h"

#include "activation_names.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

#include "mike/error.h"

namespace mike::llava {

namespace {

using nlohmann::json;

// One section of config.json ("" = the top level, "text_config", ...) with
// getters that refuse a value of the wrong type by file and key. JSON null
// counts as absent, as transformers treats it (e.g. "head_dim": null).
class Section {
 public:
  Section(const json& node, std::string file, std::string prefix)
      : node_(node), file_(std::move(file)), prefix_(std::move(prefix)) {}

  bool has(const std::string& key) const { return node_.contains(key) && !node_.at(key).is_null(); }
  const json& at(const std::string& key) const { return node_.at(key); }

  std::int64_t integer(const std::string& key, std::int64_t fallback, std::int64_t min = 1,
                       std::int64_t max = std::numeric_limits<std::int32_t>::max()) const {
    if (!has(key)) return fallback;
    const json& v = node_.at(key);
    if (!v.is_number_integer()) wrong_type(key, "an integer", v);
    const std::int64_t value = v.is_number_unsigned() && v.get<std::uint64_t>() > std::uint64_t(max)
                                   ? max + 1
                                   : v.get<std::int64_t>();
    if (value < min || value > max)
      fail(key, "is " + v.dump() + ", outside " + std::to_string(min) + " .. " + std::to_string(max));
    return value;
  }
  double number(const std::string& key, double fallback, bool positive = true) const {
    if (!has(key)) return fallback;
    const json& v = node_.at(key);
    if (!v.is_number()) wrong_type(key, "a number", v);
    const double value = v.get<double>();
    if (!(value == value) || (positive && !(value > 0)) || value > std::numeric_limits<double>::max())
      fail(key, "is " + v.dump() + (positive ? ", not a positive finite number" : ", not a finite number"));
    return value;
  }
  bool boolean(const std::string& key, bool fallback) const {
    if (!has(key)) return fallback;
    const json& v = node_.at(key);
    if (!v.is_boolean()) wrong_type(key, "true or false", v);
    return v.get<bool>();
  }
  std::string string(const std::string& key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    const json& v = node_.at(key);
    if (!v.is_string()) wrong_type(key, "a string", v);
    return v.get<std::string>();
  }
  Section sub(const std::string& key) const {
    const json& v = node_.at(key);
    if (!v.is_object()) wrong_type(key, "an object", v);
    return Section(v, file_, name(key));
  }

  std::string name(const std::string& key) const { return prefix_.empty() ? key : prefix_ + "." + key; }
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw ModelError("Hugging Face config '" + file_ + "': key '" + name(key) + "' " + what +
                     "; fix the key (transformers' LlavaConfig documents it) or point model.path at an intact "
                     "LLaVA-1.5 checkpoint");
  }
  [[noreturn]] void wrong_type(const std::string& key, const std::string& expected, const json& got) const {
    std::string shown = got.dump();
    if (shown.size() > 60) shown = shown.substr(0, 57) + "...";
    fail(key, "must be " + expected + ", got " + shown);
  }

 private:
  const json& node_;
  std::string file_, prefix_;
};

json parse_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError("'" + path + "' cannot be opened");
  // A config.json is a few kB; a huge file is not one (and must not be read whole).
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::streamoff>(in.tellg());
  if (size > (16 << 20))
    throw ModelError("Hugging Face config '" + path + "' is " + std::to_string(size) +
                     " bytes, far more than a config.json (limit 16 MiB); point model.path at a checkpoint directory");
  in.seekg(0);
  std::stringstream text;
  text << in.rdbuf();
  try {
    return json::parse(text.str());
  } catch (const json::exception& e) {
    throw ModelError("Hugging Face config '" + path + "' is not valid JSON (" + e.what() +
                     "); restore it from the checkpoint's source");
  }
}

// CLIPVisionConfig (transformers) over its defaults; `builtin` is LlavaConfig's
// own vision model when config.json has no vision_config at all.
VisionConfig read_vision(const Section* s) {
  VisionConfig v;
  if (!s) {  // LlavaConfig(vision_config=None): CLIP ViT-L/14 at 336 px
    v.hidden = 1024, v.intermediate = 4096, v.patch_size = 14, v.image_size = 336, v.layers = 24, v.heads = 16;
    v.hidden_act = "quick_gelu";
    return v;
  }
  const std::string type = s->string("model_type", "clip_vision_model");
  if (type != "clip_vision_model")
    s->fail("model_type", "is '" + type + "'; mike loads LLaVA-1.5's CLIP vision tower ('clip_vision_model') only");
  v.hidden = static_cast<int>(s->integer("hidden_size", 768));
  v.intermediate = static_cast<int>(s->integer("intermediate_size", 3072));
  v.layers = static_cast<int>(s->integer("num_hidden_layers", 12, 1, 1000));
  v.heads = static_cast<int>(s->integer("num_attention_heads", 12));
  v.image_size = static_cast<int>(s->integer("image_size", 224, 1, 16384));
  v.patch_size = static_cast<int>(s->integer("patch_size", 32, 1, 16384));
  v.layer_norm_eps = s->number("layer_norm_eps", 1e-5);
  v.hidden_act = s->string("hidden_act", "quick_gelu");
  if (!is_activation(v.hidden_act))
    s->fail("hidden_act", "is '" + v.hidden_act + "'; supported: " + activation_list());
  if (s->integer("num_channels", 3) != 3) s->fail("num_channels", "must be 3 (RGB images)");
  if (v.image_size % v.patch_size != 0)
    s->fail("patch_size", "(" + std::to_string(v.patch_size) + ") must divide image_size (" +
                              std::to_string(v.image_size) + ")");
  if (v.hidden % v.heads != 0)
    s->fail("num_attention_heads", "(" + std::to_string(v.heads) + ") must divide hidden_size (" +
                                       std::to_string(v.hidden) + ")");
  return v;
}

// LlamaConfig (transformers) over its defaults.
LanguageConfig read_text(const Section* s, std::int64_t& vocab_size) {
  LanguageConfig l;
  l.hidden = 4096, l.intermediate = 11008, l.layers = 32, l.heads = 32, l.max_positions = 2048;
  l.rope_theta = 10000.0, l.rms_norm_eps = 1e-6;
  vocab_size = 32000;
  if (!s) {
    l.kv_heads = l.heads;
    return l;
  }
  const std::string type = s->string("model_type", "llama");
  if (type != "llama")
    s->fail("model_type", "is '" + type + "'; mike loads LLaVA-1.5's LLaMA language model ('llama') only");
  vocab_size = s->integer("vocab_size", 32000);
  l.hidden = static_cast<int>(s->integer("hidden_size", l.hidden));
  l.intermediate = static_cast<int>(s->integer("intermediate_size", l.intermediate));
  l.layers = static_cast<int>(s->integer("num_hidden_layers", l.layers, 1, 1000));
  l.heads = static_cast<int>(s->integer("num_attention_heads", l.heads));
  l.kv_heads = static_cast<int>(s->integer("num_key_value_heads", l.heads));
  l.max_positions = static_cast<int>(s->integer("max_position_embeddings", l.max_positions));
  l.rope_theta = s->number("rope_theta", l.rope_theta);
  l.rms_norm_eps = s->number("rms_norm_eps", l.rms_norm_eps);
  l.attention_bias = s->boolean("attention_bias", false);
  l.mlp_bias = s->boolean("mlp_bias", false);
  l.tie_word_embeddings = s->boolean("tie_word_embeddings", false);
  if (s->has("head_dim")) l.explicit_head_dim = static_cast<int>(s->integer("head_dim", 0));
  const std::string act = s->string("hidden_act", "silu");
  if (act != "silu") s->fail("hidden_act", "is '" + act + "'; LLaMA's MLP is SwiGLU ('silu'), the only one mike runs");
  if (s->has("rope_scaling"))
    s->fail("rope_scaling", "is set (" + s->at("rope_scaling").dump() +
                                "); mike implements LLaMA's plain RoPE only (LLaVA-1.5 has no scaling)");
  if (l.explicit_head_dim == 0 && l.hidden % l.heads != 0)
    s->fail("num_attention_heads", "(" + std::to_string(l.heads) + ") must divide hidden_size (" +
                                       std::to_string(l.hidden) + "), or give head_dim");
  if (l.head_dim() % 2 != 0) s->fail("head_dim", "is odd (" + std::to_string(l.head_dim()) + "); RoPE rotates pairs");
  if (l.heads % l.kv_heads != 0)
    s->fail("num_key_value_heads", "(" + std::to_string(l.kv_heads) + ") must divide num_attention_heads (" +
                                       std::to_string(l.heads) + ")");
  return l;
}

}  // namespace

HfArchitecture read_hf_llava_config(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "config.json").string();
  if (!std::filesystem::is_regular_file(path))
    throw ModelError("'" + dir + "' is not a Hugging Face LLaVA checkpoint: it has no config.json; point model.path "
                     "at the directory that holds config.json, model.safetensors (or its index) and tokenizer.model");
  const json root = parse_file(path);
  if (!root.is_object()) throw ModelError("Hugging Face config '" + path + "' is not a JSON object");
  const Section top(root, path, "");
  const std::string type = top.string("model_type", "");
  if (type != "llava")
    top.fail("model_type", type.empty() ? "is missing; mike loads LLaVA-1.5 checkpoints (model_type 'llava')"
                                        : "is '" + type + "'; mike loads LLaVA-1.5 checkpoints (model_type 'llava')");
  HfArchitecture out;
  if (top.has("vision_config")) {
    const Section vision = top.sub("vision_config");
    out.vision = read_vision(&vision);
  } else {
    out.vision = read_vision(nullptr);
  }
  if (top.has("text_config")) {
    const Section text = top.sub("text_config");
    out.lm = read_text(&text, out.vocab_size);
  } else {
    out.lm = read_text(nullptr, out.vocab_size);
  }
  // The LM's tie wins when given there; the top-level key is what LlavaConfig
  // passes to PretrainedConfig (and what older checkpoints carry).
  if (top.has("tie_word_embeddings") && !(top.has("text_config") && root["text_config"].contains("tie_word_embeddings")))
    out.lm.tie_word_embeddings = top.boolean("tie_word_embeddings", false);

  // vision_feature_layer: an index into hidden_states (embeddings, then each
  // layer's output), or a list of them whose features are concatenated.
  const int states = out.vision.layers + 1;
  auto check_layer = [&](std::int64_t layer) {
    if (layer >= states || layer < -states)
      top.fail("vision_feature_layer", "holds " + std::to_string(layer) + ", which indexes none of the vision tower's " +
                                           std::to_string(states) + " hidden states (-" + std::to_string(states) +
                                           " .. " + std::to_string(states - 1) + ")");
    return static_cast<int>(layer);
  };
  if (top.has("vision_feature_layer")) {
    const json& layer = root["vision_feature_layer"];
    if (layer.is_number_integer()) {
      out.vision.feature_layer = check_layer(layer.get<std::int64_t>());
    } else if (layer.is_array() && !layer.empty()) {
      for (const json& item : layer) {
        if (!item.is_number_integer()) top.wrong_type("vision_feature_layer", "an integer or a list of integers", layer);
        out.vision.feature_layers.push_back(check_layer(item.get<std::int64_t>()));
      }
      out.vision.feature_layer = out.vision.feature_layers.back();
    } else {
      top.wrong_type("vision_feature_layer", "an integer or a non-empty list of integers", layer);
    }
  } else {
    out.vision.feature_layer = -2;  // LlavaConfig's default
  }
  const std::string strategy = top.string("vision_feature_select_strategy", "default");
  if (strategy != "default" && strategy != "full")
    top.fail("vision_feature_select_strategy", "is '" + strategy + "'; it must be 'default' (drop CLS) or 'full'");
  out.vision.keep_class_token = strategy == "full";

  out.projector.act = top.string("projector_hidden_act", "gelu");
  if (!is_activation(out.projector.act))
    top.fail("projector_hidden_act", "is '" + out.projector.act + "'; supported: " + activation_list());
  out.projector.bias = top.boolean("multimodal_projector_bias", true);
  out.image_token_index = top.integer("image_token_index", 32000, 0);
  out.pad_token_id = top.integer("pad_token_id", -1, -1);
  if (out.image_token_index >= out.vocab_size)
    top.fail("image_token_index", "(" + std::to_string(out.image_token_index) + ") is not below text_config.vocab_size (" +
                                      std::to_string(out.vocab_size) + ")");
  return out;
}

}  // namespace mike::llava
