// rome: rank-one model editing (Meng et al. 2022, "Locating and Editing
// Factual Associations in GPT") of one LM MLP down-projection. The key,
// value and closed-form update (eq. 2-4) are mike::LocateThenEdit
// (mike/locate_edit.h), shared with memit and alphaedit.
#include "mike/locate_edit.h"
#include "mike/plugin.h"
#include "mike_plugin_default_config.h"

namespace {

class RomeEditor : public mike::LocateEditEditor {
 public:
  explicit RomeEditor(const mike::Config& config) : LocateEditEditor(config, mike::LocateEditMethod::kRome) {}
};

}  // namespace

MIKE_EDITOR_PLUGIN(RomeEditor, "rome", "1.0.0",
                   "ROME: rank-one closed-form edit of one LM MLP down-projection (key at the last prompt token)",
                   kMikePluginDefaultConfig)
