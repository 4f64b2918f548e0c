#pragma once
// Weights of a Hugging Face LLaVA-1.5 checkpoint in the native network's
// parameters: tensor names in either layout transformers has written
// (< 4.52: language_model.model.*, vision_tower.*, multi_modal_projector.*,
// language_model.lm_head.weight; >= 4.52: model.language_model.*,
// model.vision_tower.*, model.multi_modal_projector.*, lm_head.weight), one
// model.safetensors or shards listed by model.safetensors.index.json, F32,
// F16 or BF16, read one tensor at a time straight into its parameter.
#include <torch/torch.h>

#include <map>
#include <string>

namespace mike::llava {

// The Hugging Face name of native parameter `name` ("lm.layers.0.q_proj.weight"
// -> "language_model.model.layers.0.self_attn.q_proj.weight"); `new_layout`
// picks transformers >= 4.52's names. Throws ModelError for a name the
// mapping does not know (a bug: every native parameter has one).
std::string hf_tensor_name(const std::string& name, bool new_layout);

// Fills every parameter from the checkpoint in `dir`, converting to the
// parameter's dtype. Throws ModelError naming the file and tensor for a
// missing or unknown tensor, a wrong shape, a non-float dtype, or a
// non-finite value. Buffers transformers stores (position_ids, rotary
// inv_freq) and CLIP's unused post_layernorm are skipped.
void load_hf_weights(const std::string& dir, std::map<std::string, torch::Tensor>& parameters);

}  // namespace mike::llava
