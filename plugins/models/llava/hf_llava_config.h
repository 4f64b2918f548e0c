#pragma once
// The architecture of a Hugging Face LLaVA-1.5 checkpoint directory, read
// from its config.json as transformers' LlavaConfig writes it: the full form
// and the Hub's short form, where keys equal to their defaults are omitted
// (missing text_config keys take LlamaConfig's defaults, missing
// vision_config keys CLIPVisionConfig's, a missing section LlavaConfig's
// built-in CLIP ViT-L/14-336 or LlamaConfig()).
#include <cstdint>
#include <string>

#include "llava_config.h"

namespace mike::llava {

struct HfArchitecture {
  VisionConfig vision;
  LanguageConfig lm;
  ProjectorConfig projector;
  std::int64_t vocab_size = 32000;
  std::int64_t image_token_index = 32000;
  std::int64_t pad_token_id = -1;  // -1: none given
};

// Reads `<dir>/config.json`; throws ModelError (exit 5) naming the file and
// the key for a missing file, invalid JSON, a key of the wrong type, or an
// architecture mike does not implement (another model_type, RoPE scaling, an
// activation other than the ones LLaVA-1.5 uses).
HfArchitecture read_hf_llava_config(const std::string& dir);

}  // namespace mike::llava
