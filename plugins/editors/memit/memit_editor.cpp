// memit: mass-editing memory in a transformer (Meng et al. 2023): one
// least-squares update per layer, ΔW = R Kᵀ (λC + KKᵀ)⁻¹ (eq. 14), the
// residual spread over several LM layers (eq. 15). Shared machinery in
// mike::LocateThenEdit (mike/locate_edit.h).
#include "mike/locate_edit.h"
#include "mike/plugin.h"
#include "mike_plugin_default_config.h"

namespace {

class MemitEditor : public mike::LocateEditEditor {
 public:
  explicit MemitEditor(const mike::Config& config) : LocateEditEditor(config, mike::LocateEditMethod::kMemit) {}
};

}  // namespace

MIKE_EDITOR_PLUGIN(MemitEditor, "memit", "1.0.0",
                   "MEMIT: batched least-squares edits spread over several LM MLP down-projections",
                   kMikePluginDefaultConfig)
