// Fixtures with a hand-written info block instead of the MIKE_*_PLUGIN macro,
// to produce the refusals the host must catch: a foreign SDK ABI
// (FIXTURE_ABI) or a foreign LibTorch (FIXTURE_TORCH).
#include "mike/editor.h"
#include "mike/plugin.h"

namespace {
const mike::PluginInfo info = {FIXTURE_ABI, "editor", FIXTURE_NAME, "9.9.9", "hand-made info (host test fixture)",
                               FIXTURE_TORCH, ""};
const mike::PluginInfo* info_fn() { return &info; }
mike::Component* create_fn(const mike::Config&) { return nullptr; }
}  // namespace

BOOST_DLL_ALIAS(info_fn, mike_plugin_info)
BOOST_DLL_ALIAS(create_fn, mike_plugin_create)
