#include "plugins/plugin_registry.h"

#include "data/dataset_corpus.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include "plugins/plugin_seal.h"
#include "system/install_layout.h"

namespace fs = std::filesystem;

namespace mike {

const char* to_string(PluginStatus status) {
  switch (status) {
    case PluginStatus::ok: return "ok";
    case PluginStatus::refused: return "refused";
    case PluginStatus::shadowed: return "shadowed";
  }
  return "?";
}

namespace {

std::vector<std::string> split_colon_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t colon = text.find(':', start);
    std::string part = text.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (!part.empty()) out.push_back(part);
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return out;
}

// Why the file cannot be a plugin before we dlopen it, or "" if it may be.
// dlopen runs the file's code (and maps it: a truncated file faults on first
// touch), so a damaged file must be caught here, reading it as bytes only.
std::string precheck_file(const std::string& file, const std::string& kind, const std::string& name) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::string("cannot read the file (") + std::strerror(errno) + "); check that it exists and is readable";
  if (std::string why = check_plugin_seal(file, kind, name); !why.empty()) return why;
  char magic[4] = {};
  in.read(magic, 4);
  if (in.gcount() != 4 || std::memcmp(magic, "\x7f" "ELF", 4) != 0)
    return "not a shared library (no ELF header); the file is corrupt or not a plugin — rebuild or delete it";
  return "";
}

}  // namespace

std::vector<std::string> PluginRegistry::default_search_path(const std::vector<std::string>& cli_paths) {
  std::vector<std::string> dirs;
  for (const std::string& p : cli_paths)
    for (const std::string& d : split_colon_list(p)) dirs.push_back(d);
  if (const char* env = std::getenv("MIKE_PLUGIN_PATH"))
    for (const std::string& d : split_colon_list(env)) dirs.push_back(d);
  // The build tree's plugins belong to the build tree's executables only: an
  // installed mike must not pick up (or be shadowed by) a build it came from.
  if (executable_is_in_build_tree_of(MIKE_BUILD_PLUGIN_DIR)) dirs.push_back(MIKE_BUILD_PLUGIN_DIR);
  if (!executable_path().empty()) dirs.push_back((install_prefix() / MIKE_INSTALL_PLUGIN_SUBDIR).string());
  // The same directory reached twice (e.g. build tree == exe-relative) is scanned once.
  std::vector<std::string> unique;
  std::vector<fs::path> seen;
  for (const std::string& d : dirs) {
    std::error_code fec;
    fs::path canonical = fs::weakly_canonical(d, fec);
    if (fec) canonical = d;
    if (std::find(seen.begin(), seen.end(), canonical) != seen.end()) continue;
    seen.push_back(canonical);
    unique.push_back(d);
  }
  return unique;
}

void PluginRegistry::discover(const std::vector<std::string>& directories) {
  static const std::regex pattern(R"(^libmike_(model|editor|metric)_([a-z0-9_]+)\.so$)");
  for (const std::string& dir : directories) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      spdlog::debug("plugin directory '{}' does not exist; skipped", dir);
      continue;
    }
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (const fs::path& path : files) {
      std::smatch m;
      std::string filename = path.filename().string();
      if (!std::regex_match(filename, m, pattern)) continue;
      consider(path.string(), m[1], m[2]);
    }
  }
}

void PluginRegistry::consider(const std::string& file, const std::string& kind, const std::string& name) {
  PluginRecord record;
  record.kind = kind;
  record.name = name;
  record.file = file;
  auto claimed = std::find_if(records_.begin(), records_.end(), [&](const PluginRecord& r) {
    return r.kind == kind && r.name == name && r.status != PluginStatus::shadowed;
  });
  if (claimed != records_.end()) {
    record.status = PluginStatus::shadowed;
    record.reason = "shadowed by " + claimed->file + " (earlier in the search path)";
    warnings_.push_back(kind + " plugin '" + name + "' in " + file + " is " + record.reason + "; it is not loaded");
    records_.push_back(std::move(record));
    return;
  }
  auto refuse = [&](const std::string& why) {
    record.status = PluginStatus::refused;
    record.reason = why;
    record.library.reset();
    record.create = nullptr;
    warnings_.push_back("refused " + file + ": " + why);
    records_.push_back(std::move(record));
  };
  if (std::string why = precheck_file(file, kind, name); !why.empty()) return refuse(why);

  auto library = std::make_shared<boost::dll::shared_library>();
  try {
    // RTLD_LOCAL: plugins do not see each other's symbols.
    library->load(file, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    return refuse(std::string("cannot be loaded: ") + e.what() +
                  "; rebuild it against this mike (LibTorch " TORCH_VERSION ")");
  }
  if (!library->has("mike_plugin_info"))
    return refuse("has no 'mike_plugin_info' symbol: not a mike plugin (use MIKE_*_PLUGIN(...) from mike/plugin.h)");

  const PluginInfo* info = nullptr;
  try {
    info = library->get_alias<PluginInfoFn>("mike_plugin_info")();
  } catch (const std::exception& e) {
    return refuse(std::string("its info function failed: ") + e.what());
  }
  if (info == nullptr) return refuse("its info function returned null");
  record.abi_version = info->abi_version;
  // Only abi_version is safe to read until it matches: the rest of the struct
  // may have another layout in another ABI.
  if (info->abi_version != kSdkAbiVersion)
    return refuse("built for SDK ABI " + std::to_string(info->abi_version) + ", but this mike has SDK ABI " +
                  std::to_string(kSdkAbiVersion) + "; rebuild the plugin against this mike's SDK");
  auto text = [](const char* s) { return s ? std::string(s) : std::string(); };
  record.version = text(info->version);
  record.description = text(info->description);
  record.torch_version = text(info->torch_version);
  record.default_config = text(info->default_config);
  if (record.torch_version != TORCH_VERSION)
    return refuse("built with LibTorch " + record.torch_version + ", but this mike uses LibTorch " TORCH_VERSION
                  "; rebuild the plugin against the same LibTorch");
  if (text(info->kind) != kind || text(info->name) != name)
    return refuse("its info says " + text(info->kind) + " '" + text(info->name) + "' but the file name says " + kind +
                  " '" + name + "'; rename the file to libmike_" + text(info->kind) + "_" + text(info->name) + ".so");
  if (!library->has("mike_plugin_create"))
    return refuse("has no 'mike_plugin_create' symbol; declare the plugin with MIKE_*_PLUGIN(...)");
  record.create = &library->get_alias<PluginCreateFn>("mike_plugin_create");
  record.library = std::move(library);
  record.status = PluginStatus::ok;
  records_.push_back(std::move(record));
}

const PluginRecord* PluginRegistry::find(const std::string& kind, const std::string& name) const {
  for (const PluginRecord& r : records_)
    if (r.kind == kind && r.name == name && r.status == PluginStatus::ok) return &r;
  return nullptr;
}

std::vector<std::string> PluginRegistry::names(const std::string& kind) const {
  std::vector<std::string> out;
  for (const PluginRecord& r : records_)
    if (r.kind == kind && r.status == PluginStatus::ok) out.push_back(r.name);
  std::sort(out.begin(), out.end());
  return out;
}

const PluginRecord& PluginRegistry::require(const std::string& kind, const std::string& name) const {
  const PluginRecord* record = find(kind, name);
  if (record == nullptr) {
    for (const PluginRecord& r : records_)
      if (r.kind == kind && r.name == name && r.status == PluginStatus::refused)
        throw PluginError(kind + " plugin '" + name + "' (" + r.file + ") was refused: " + r.reason);
    std::string available;
    for (const std::string& n : names(kind)) available += (available.empty() ? "" : ", ") + n;
    throw PluginError("no " + kind + " plugin named '" + name + "'; available: " +
                      (available.empty() ? "none" : available) +
                      ". Check `mike plugins list`, --plugin-path or MIKE_PLUGIN_PATH");
  }
  return *record;
}

std::shared_ptr<Component> PluginRegistry::create(const std::string& kind, const std::string& name,
                                                  const Config& config) const {
  const PluginRecord* record = &require(kind, name);
  std::string label = kind + " '" + name + "'";
  Component* raw = call_plugin(label, [&] { return (*record->create)(config); });
  if (raw == nullptr) throw PluginError(label + ": factory returned null");
  auto library = record->library;
  // The deleter runs the object's destructor (plugin code) first and only then
  // lets go of the library.
  return std::shared_ptr<Component>(raw, [library](Component* object) { delete object; });
}

namespace {
template <class T>
std::shared_ptr<T> downcast(std::shared_ptr<Component> object, const std::string& kind, const std::string& name) {
  auto typed = std::dynamic_pointer_cast<T>(object);
  if (!typed) throw PluginError(kind + " '" + name + "': factory returned an object that is not a mike " + kind);
  return typed;
}
}  // namespace

std::shared_ptr<Model> PluginRegistry::create_model(const std::string& name, const Config& config) const {
  return downcast<Model>(create("model", name, config), "model", name);
}
std::shared_ptr<Editor> PluginRegistry::create_editor(const std::string& name, const Config& config) const {
  std::shared_ptr<Editor> editor = downcast<Editor>(create("editor", name, config), "editor", name);
  // Every editor reads corpora (layer statistics, ...) through the host.
  editor->set_corpus_source(data::dataset_corpus_source());
  return editor;
}
std::shared_ptr<Metric> PluginRegistry::create_metric(const std::string& name, const Config& config) const {
  return downcast<Metric>(create("metric", name, config), "metric", name);
}

}  // namespace mike
