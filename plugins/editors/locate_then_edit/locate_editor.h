#pragma once
// What rome, memit and alphaedit share as editors: their settings, the C
// statistics, and value shifts prepared ahead, batched, for edits the runner
// makes one by one on the same model (Editor::prepare_independent_edits).
#include <memory>
#include <string>
#include <vector>

#include "layer_stats.h"
#include "mike/editor.h"
#include "settings.h"
#include "value_shift.h"

namespace mike::locate_edit {

class LocateThenEditEditor : public Editor {
 public:
  LocateThenEditEditor(const Config& config, const SettingsRules& rules);
  // value.batch_edits requests ahead (0 when it is 1: nothing to batch).
  std::size_t independent_edit_window() const override;
  void prepare_independent_edits(Model& model, const std::vector<EditRequest>& requests) override;

 protected:
  // The edit sites of settings_.layers.
  std::vector<EditSite> sites(const Model& model) const;
  // The value shifts of `requests` (the prepared ones, the rest batched).
  std::vector<ValueResult> values(Model& model, const std::vector<EditRequest>& requests);

  Settings settings_;
  SecondMoments second_moments_;

 private:
  PreparedValues prepared_;
};

}  // namespace mike::locate_edit
