#pragma once
// The config keys rome, memit and alphaedit share (each plugin's yaml
// documents them): layers, key position, context templates, the value
// optimisation and the statistics. Editor-specific keys (MEMIT's λ,
// AlphaEdit's threshold) are read by each editor itself.
#include <string>
#include <vector>

#include "key_capture.h"
#include "layer_stats.h"
#include "mike/config.h"
#include "value_shift.h"

namespace mike::locate_edit {

struct Settings {
  std::vector<int> layers;                     // LM blocks whose edit site changes (Model::edit_sites)
  std::vector<std::string> context_templates;  // "{}" = the edit prompt
  KeyPosition key_position = KeyPosition::kLastImageToken;
  ValueOptimisation value;
  StatsOptions stats;
};

// What an editor allows beyond the shared checks.
struct SettingsRules {
  bool single_layer = false;          // ROME: exactly one layer
  bool allows_answer_tokens = true;   // ROME: one key, so no answer_tokens
  std::string editor;                 // for messages ("ROME")
};

// Reads and checks the shared keys; ConfigError naming the key, where it was
// set and the fix.
Settings read_settings(const Config& config, const SettingsRules& rules);

// "key (file:line:col)" for messages about `key` of `config`.
std::string config_key_where(const Config& config, const std::string& key);

}  // namespace mike::locate_edit
