// Config composition as `mike run` does it, on files made of the input
// (NUL-separated): configs/config.yaml, configs/editor/a.yaml,
// configs/editor/b.yaml, the default config of a plugin named `fuzz`, then
// one command-line override per remaining part. Composition merges the
// defaults list, applies the overrides and resolves ${...} interpolations;
// the result is printed back as YAML the way `--cfg job` does.
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "config/composer.h"
#include "input_parts.h"
#include "mike/error.h"
#include "scratch_dir.h"

namespace {

constexpr std::size_t kFileParts = 4;
constexpr std::size_t kMaxOverrides = 8;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = mike::fuzz::split_input(data, size, kFileParts + kMaxOverrides);
  const auto& scratch = mike::fuzz::scratch();
  const char* files[] = {"configs/config.yaml", "configs/editor/a.yaml", "configs/editor/b.yaml"};
  for (std::size_t i = 0; i < std::size(files); ++i) {
    if (i < parts.size())
      scratch.write(files[i], parts[i]);
    else
      scratch.remove(files[i]);
  }
  const std::string plugin_yaml = parts.size() > 3 ? std::string(parts[3]) : std::string("lr: 0.1\n");

  mike::ComposeRequest request;
  request.config_dir = scratch.path() / "configs";
  for (std::size_t i = kFileParts; i < parts.size(); ++i) request.overrides.emplace_back(parts[i]);
  request.plugin_defaults = [&](const std::string& group,
                                const std::string& plugin) -> std::optional<mike::PluginDefaults> {
    if (plugin != "fuzz") return std::nullopt;
    return mike::PluginDefaults{plugin_yaml, "plugin " + group + " 'fuzz' defaults"};
  };
  request.plugin_names = [](const std::string&) { return std::vector<std::string>{"fuzz"}; };
  try {
    mike::ComposedConfig composed = mike::compose_config(request);
    (void)composed.config.to_yaml();
  } catch (const mike::Error&) {
  }
  return 0;
}
