#pragma once
// Discovers, validates and instantiates plugins (DESIGN.md "Plugins").
//
// discover() scans directories for libmike_<kind>_<name>.so. The first file
// that claims a (kind, name) wins; later ones are recorded as shadowed and not
// loaded. Each claimed file is checked as bytes before dlopen (readable, its
// seal intact and for this host: plugin_seal.h; ELF), then after dlopen (info
// symbol, SDK ABI, LibTorch version, name/kind) before its factory can ever be
// called; a failing file is recorded as refused with the reason and the rest
// load.
#include <boost/dll/shared_library.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mike/config.h"
#include "mike/editor.h"
#include "mike/error.h"
#include "mike/metric.h"
#include "mike/model.h"
#include "mike/plugin.h"
#include "plugins/call_plugin.h"

namespace mike {

enum class PluginStatus { ok, refused, shadowed };
const char* to_string(PluginStatus status);

struct PluginRecord {
  std::string kind;  // from the file name (and, when ok, confirmed by the info)
  std::string name;
  std::string file;
  PluginStatus status = PluginStatus::refused;
  std::string reason;  // why refused/shadowed; empty when ok
  // Filled from the plugin's info when it could be read safely:
  std::string version, description, torch_version, default_config;
  std::uint32_t abi_version = 0;
  // Only for ok plugins:
  std::shared_ptr<boost::dll::shared_library> library;
  PluginCreateFn* create = nullptr;
};

class PluginRegistry {
 public:
  // The search path in priority order: `cli_paths` (--plugin-path), then
  // MIKE_PLUGIN_PATH (colon-separated), the build tree's plugin dir (only for
  // an executable of that build tree), then the install prefix's
  // lib/mike/plugins (relative to the running executable).
  static std::vector<std::string> default_search_path(const std::vector<std::string>& cli_paths);

  void discover(const std::vector<std::string>& directories);

  const std::vector<PluginRecord>& records() const { return records_; }
  // Messages about shadowed duplicates and refusals, for the log.
  const std::vector<std::string>& warnings() const { return warnings_; }
  // The ok plugin of that kind and name, or nullptr.
  const PluginRecord* find(const std::string& kind, const std::string& name) const;
  // The loaded plugin, or PluginError naming what is available (or why the
  // library was refused) and where plugins are searched.
  const PluginRecord& require(const std::string& kind, const std::string& name) const;
  // Names of ok plugins of a kind, sorted.
  std::vector<std::string> names(const std::string& kind) const;

  // Instantiate a plugin object. The returned shared_ptr keeps the library
  // loaded. Throws PluginError naming the plugin if it is unknown/refused or
  // its factory throws.
  std::shared_ptr<Model> create_model(const std::string& name, const Config& config) const;
  std::shared_ptr<Editor> create_editor(const std::string& name, const Config& config) const;
  std::shared_ptr<Metric> create_metric(const std::string& name, const Config& config) const;

 private:
  std::shared_ptr<Component> create(const std::string& kind, const std::string& name, const Config& config) const;
  void consider(const std::string& file, const std::string& kind, const std::string& name);
  std::vector<PluginRecord> records_;
  std::vector<std::string> warnings_;
};

}  // namespace mike
