// alphaedit: null-space constrained knowledge editing (Fang et al. 2025,
// "AlphaEdit"): MEMIT's update projected onto the null space of the preserved
// keys' second moment (eq. 6, 11), so ΔW K₀ ≈ 0. Shared machinery in
// mike::LocateThenEdit (mike/locate_edit.h).
#include "mike/locate_edit.h"
#include "mike/plugin.h"
#include "mike_plugin_default_config.h"

namespace {

class AlphaEditEditor : public mike::LocateEditEditor {
 public:
  explicit AlphaEditEditor(const mike::Config& config)
      : LocateEditEditor(config, mike::LocateEditMethod::kAlphaEdit) {}
};

}  // namespace

MIKE_EDITOR_PLUGIN(AlphaEditEditor, "alphaedit", "1.0.0",
                   "AlphaEdit: MEMIT projected onto the null space of preserved keys",
                   kMikePluginDefaultConfig)
