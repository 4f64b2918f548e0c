// Registers the native LLaVA model as the `llava` model plugin.
#include "llava_model.h"
#include "mike/plugin.h"
#include "mike_plugin_default_config.h"

MIKE_MODEL_PLUGIN(mike::llava::LlavaModel, "llava", "0.1.0",
                  "Native LLaVA-1.5 architecture (CLIP ViT + GELU MLP projector + LLaMA decoder), size presets llava_xs..l",
                  kMikePluginDefaultConfig)
