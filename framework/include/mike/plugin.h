#pragma once
// Plugin handshake. A plugin is a shared library named
// libmike_<kind>_<name>.so that exports two Boost.DLL aliases:
//   mike_plugin_info    -> const mike::PluginInfo* ()
//   mike_plugin_create  -> mike::Component* (const mike::Config&)
// The host reads the info first and refuses the plugin, without calling the
// factory, if its SDK ABI or LibTorch version differs from the host's.
//
// Write a plugin with one macro at namespace scope:
//   MIKE_EDITOR_PLUGIN(MyEditor, "my_editor", "1.0.0", "What it does", kMikePluginDefaultConfig)
// where MyEditor derives from mike::Editor and has a constructor taking
// `const mike::Config&` (the composed config of its group, e.g. `editor`).
#include <boost/dll/alias.hpp>
#include <torch/version.h>

#include <cstdint>

#include "mike/component.h"
#include "mike/config.h"

namespace mike {

// Bump whenever a change to the SDK headers breaks binary compatibility
// (a virtual function added/removed/reordered, a struct layout change).
// 2: ScoreResult token layout, Model::target_log_probs.
// 3: libmike_sdk split from the host; Model::edit_sites/token_layout/count_tokens,
//    TokenLayout, Editor corpus source; locate-then-edit moved out of the SDK.
// 4: ScoreRequest::position_top_k, ScoreResult::position_topk_tokens (EasyEdit locality).
// 5: ModelInput::raw, ScoreResult::prompt_tokens/target_token_log_probs,
//    Model::generate_tokens/device, Tokenizer added tokens (Hugging Face checkpoints).
// 6: ScoreResult::next_token, GenerateOptions::known_tokens (greedy decoding
//    seeded from teacher forcing).
// 7: Editor::independent_edit_window/prepare_independent_edits,
//    minimise_groups_with_adam.
// 8: Editor::fit_use/fitted_state/load_fitted, fit(TrainingEdit, FitProgress).
inline constexpr std::uint32_t kSdkAbiVersion = 8;

// Layout is frozen: `abi_version` stays the first member so that any host
// can read it from any plugin before trusting the rest.
struct PluginInfo {
  std::uint32_t abi_version;       // kSdkAbiVersion the plugin was compiled with
  const char* kind;                // "model", "editor" or "metric"
  const char* name;                // unique within its kind; matches the file name
  const char* version;             // the plugin's own version
  const char* description;         // one line
  const char* torch_version;       // TORCH_VERSION the plugin was compiled with
  const char* default_config;      // YAML merged under the plugin's config group
};

using PluginInfoFn = const PluginInfo*();
using PluginCreateFn = Component*(const Config&);

}  // namespace mike

#define MIKE_DETAIL_PLUGIN(kind_str, Base, Class, name, version, description, default_config)   \
  static_assert(std::is_base_of<Base, Class>::value, #Class " must derive from " #Base);        \
  namespace {                                                                                   \
  const ::mike::PluginInfo mike_detail_plugin_info = {::mike::kSdkAbiVersion, kind_str, name,   \
                                                      version, description, TORCH_VERSION,      \
                                                      default_config};                          \
  const ::mike::PluginInfo* mike_detail_plugin_info_fn() { return &mike_detail_plugin_info; }   \
  ::mike::Component* mike_detail_plugin_create_fn(const ::mike::Config& config) {               \
    return new Class(config);                                                                   \
  }                                                                                             \
  }                                                                                             \
  BOOST_DLL_ALIAS(mike_detail_plugin_info_fn, mike_plugin_info)                                 \
  BOOST_DLL_ALIAS(mike_detail_plugin_create_fn, mike_plugin_create)

#define MIKE_MODEL_PLUGIN(Class, name, version, description, default_config) \
  MIKE_DETAIL_PLUGIN("model", ::mike::Model, Class, name, version, description, default_config)
#define MIKE_EDITOR_PLUGIN(Class, name, version, description, default_config) \
  MIKE_DETAIL_PLUGIN("editor", ::mike::Editor, Class, name, version, description, default_config)
#define MIKE_METRIC_PLUGIN(Class, name, version, description, default_config) \
  MIKE_DETAIL_PLUGIN("metric", ::mike::Metric, Class, name, version, description, default_config)
