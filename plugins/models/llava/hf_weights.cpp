// Loading Hugging Face LLaVA-1.5 weights (see hf_weights.h).
#include "hf_weights.h"

#include <set>
#include <vector>

#include "mike/error.h"
#include "mike/model.h"
#include "mike/safetensors_checkpoint.h"

namespace mike::llava {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "lm.layers.12.q_proj.weight" -> {"12", "q_proj.weight"}.
bool split_layer(const std::string& rest, std::string& index, std::string& tail) {
  const auto dot = rest.find('.');
  if (dot == std::string::npos || dot == 0) return false;
  index = rest.substr(0, dot);
  tail = rest.substr(dot + 1);
  return index.find_first_not_of("0123456789") == std::string::npos;
}

struct Prefixes {
  std::string vision, projector, lm, head;
};

Prefixes prefixes(bool new_layout) {
  if (new_layout) return {"model.vision_tower.vision_model.", "model.multi_modal_projector.", "model.language_model.", "lm_head."};
  return {"vision_tower.vision_model.", "multi_modal_projector.", "language_model.model.", "language_model.lm_head."};
}

// Tensors a checkpoint may hold that the network does not use (an lm_head
// saved beside tied embeddings is the embedding's copy).
bool ignorable(const std::string& hf_name, const Prefixes& p) {
  return ends_with(hf_name, ".position_ids") || ends_with(hf_name, "rotary_emb.inv_freq") ||
         starts_with(hf_name, p.vision + "post_layernorm.") || hf_name == p.head + "weight";
}

std::string dims(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

std::string hf_tensor_name(const std::string& name, bool new_layout) {
  const Prefixes p = prefixes(new_layout);
  std::string index, tail;
  if (starts_with(name, "vision.")) {
    const std::string rest = name.substr(7);
    if (rest == "patch_embedding.weight" || rest == "class_embedding" || rest == "position_embedding.weight")
      return p.vision + "embeddings." + rest;
    if (starts_with(rest, "pre_layernorm.")) return p.vision + "pre_layrnorm." + rest.substr(14);  // CLIP's spelling
    if (starts_with(rest, "layers.") && split_layer(rest.substr(7), index, tail)) {
      const std::string layer = p.vision + "encoder.layers." + index + ".";
      if (starts_with(tail, "layer_norm")) return layer + tail;
      if (starts_with(tail, "fc1.") || starts_with(tail, "fc2.")) return layer + "mlp." + tail;
      return layer + "self_attn." + tail;  // q_proj, k_proj, v_proj, out_proj
    }
  } else if (starts_with(name, "projector.")) {
    return p.projector + name.substr(10);
  } else if (starts_with(name, "lm.")) {
    const std::string rest = name.substr(3);
    if (rest == "lm_head.weight") return p.head + "weight";
    if (rest == "embed_tokens.weight" || rest == "norm.weight") return p.lm + rest;
    if (starts_with(rest, "layers.") && split_layer(rest.substr(7), index, tail)) {
      const std::string layer = p.lm + "layers." + index + ".";
      if (ends_with(tail, "layernorm.weight")) return layer + tail;
      if (starts_with(tail, "gate_proj.") || starts_with(tail, "up_proj.") || starts_with(tail, "down_proj."))
        return layer + "mlp." + tail;
      return layer + "self_attn." + tail;  // q_proj, k_proj, v_proj, o_proj
    }
  }
  throw ModelError("llava: no Hugging Face name for parameter '" + name + "'; this is a bug in the llava plugin");
}

void load_hf_weights(const std::string& dir, std::map<std::string, torch::Tensor>& parameters) {
  const SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint::open(dir);
  bool old_layout = false, new_layout = false;
  for (const SafetensorsEntry& entry : checkpoint.entries()) {
    old_layout = old_layout || starts_with(entry.name, "language_model.model.");
    new_layout = new_layout || starts_with(entry.name, "model.language_model.");
  }
  if (old_layout == new_layout)
    throw ModelError("Hugging Face checkpoint '" + dir + "' " +
                     (old_layout ? std::string("mixes both tensor-name layouts (language_model.model.* and "
                                               "model.language_model.*)")
                                 : std::string("holds no LLaVA language-model tensors (neither language_model.model.* "
                                               "nor model.language_model.*)")) +
                     "; is it a LLaVA-1.5 checkpoint? Re-save it with transformers' save_pretrained");
  const Prefixes p = prefixes(new_layout);
  std::set<std::string> wanted;
  torch::NoGradGuard no_grad;
  for (auto& [name, parameter] : parameters) {
    const std::string hf_name = hf_tensor_name(name, new_layout);
    wanted.insert(hf_name);
    if (!checkpoint.contains(hf_name))
      throw ModelError("Hugging Face checkpoint '" + dir + "' lacks tensor '" + hf_name + "' (parameter " + name +
                       " of the architecture its config.json describes); the checkpoint is incomplete or its "
                       "config.json belongs to another model");
    const SafetensorsEntry& entry = checkpoint.entry(hf_name);
    if (entry.shape != parameter.sizes().vec())
      throw ModelError("Hugging Face checkpoint '" + entry.file + "': tensor '" + hf_name + "' has shape " +
                       dims(entry.shape) + " but config.json implies " +
                       shape_string(parameter) + "; the weights and config.json do not belong together");
    if (!torch::isFloatingType(entry.dtype))
      throw ModelError("Hugging Face checkpoint '" + entry.file + "': tensor '" + hf_name + "' is " +
                       std::string(c10::toString(entry.dtype)) + ", not a float dtype (F32, F16, BF16)");
    ReadOptions options;
    options.require_finite = true;
    checkpoint.read_into(hf_name, parameter, options);
  }
  for (const SafetensorsEntry& entry : checkpoint.entries()) {
    if (wanted.count(entry.name) || ignorable(entry.name, p)) continue;
    throw ModelError("Hugging Face checkpoint '" + entry.file + "' holds tensor '" + entry.name +
                     "', which LLaVA-1.5 as its config.json describes does not have; is config.json from another "
                     "model (e.g. LLaVA-NeXT)?");
  }
}

}  // namespace mike::llava
