// Shared editor base of rome, memit and alphaedit (see locate_editor.h).
#include "locate_editor.h"

#include <torch/torch.h>

#include "site_edit.h"

namespace mike::locate_edit {

LocateThenEditEditor::LocateThenEditEditor(const Config& config, const SettingsRules& rules)
    : settings_(read_settings(config, rules)), second_moments_(settings_.stats) {}

std::size_t LocateThenEditEditor::independent_edit_window() const {
  return settings_.value.batch_edits > 1 ? static_cast<std::size_t>(settings_.value.batch_edits) : 0;
}

void LocateThenEditEditor::prepare_independent_edits(Model& model, const std::vector<EditRequest>& requests) {
  prepared_.prepare(model, value_tap(sites(model)), requests, settings_.context_templates, settings_.key_position,
                    settings_.value);
}

std::vector<EditSite> LocateThenEditEditor::sites(const Model& model) const {
  return resolve_sites(model, settings_.layers, "layers");
}

std::vector<ValueResult> LocateThenEditEditor::values(Model& model, const std::vector<EditRequest>& requests) {
  return value_shifts(model, value_tap(sites(model)), requests, settings_.context_templates, settings_.key_position,
                      settings_.value, &prepared_);
}

}  // namespace mike::locate_edit
