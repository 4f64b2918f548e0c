// `mike plugins list|info NAME`
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "commands.h"
#include "mike/error.h"
#include "plugins/plugin_registry.h"

namespace po = boost::program_options;

namespace mike::cli {

namespace {

PluginRegistry discover(const CommonOptions& common) {
  PluginRegistry registry;
  auto path = PluginRegistry::default_search_path(common.plugin_paths);
  for (const std::string& dir : path) spdlog::debug("plugin search path: {}", dir);
  registry.discover(path);
  for (const std::string& warning : registry.warnings()) spdlog::warn("{}", warning);
  return registry;
}

int list(const PluginRegistry& registry) {
  std::printf("%-7s %-16s %-8s %-9s %s\n", "KIND", "NAME", "VERSION", "STATUS", "FILE");
  for (const PluginRecord& r : registry.records()) {
    std::printf("%-7s %-16s %-8s %-9s %s\n", r.kind.c_str(), r.name.c_str(),
                r.version.empty() ? "-" : r.version.c_str(), to_string(r.status), r.file.c_str());
    if (!r.reason.empty()) std::printf("        why: %s\n", r.reason.c_str());
  }
  if (registry.records().empty()) std::printf("(no plugins found; see `mike plugins list -v` for the search path)\n");
  return 0;
}

int info(const PluginRegistry& registry, const std::string& name, const std::string& kind) {
  std::vector<const PluginRecord*> matches;
  for (const PluginRecord& r : registry.records())
    if (r.name == name && (kind.empty() || r.kind == kind) && r.status != PluginStatus::shadowed)
      matches.push_back(&r);
  if (matches.empty())
    throw UsageError("plugins info: no plugin named '" + name + "'" + (kind.empty() ? "" : " of kind " + kind) +
                     "; see `mike plugins list`");
  if (matches.size() > 1)
    throw UsageError("plugins info: '" + name + "' names plugins of several kinds; add --kind model|editor|metric");
  const PluginRecord& r = *matches.front();
  std::printf("%s %s %s\n", r.kind.c_str(), r.name.c_str(), r.version.c_str());
  std::printf("  %s\n", r.description.c_str());
  std::printf("file:     %s\n", r.file.c_str());
  std::printf("status:   %s%s%s\n", to_string(r.status), r.reason.empty() ? "" : " — ", r.reason.c_str());
  std::printf("SDK ABI:  %u\nLibTorch: %s\n", r.abi_version, r.torch_version.c_str());
  std::printf("default config:\n");
  std::string config = r.default_config.empty() ? "{}\n" : r.default_config;
  std::printf("%s%s", config.c_str(), config.back() == '\n' ? "" : "\n");
  if (r.status == PluginStatus::ok && r.kind == "model") {
    // A model describes itself (layers, dims, parameter count) when built from its defaults.
    auto model = registry.create_model(r.name, Config::from_yaml(r.default_config, r.name + " default config"));
    std::string description = call_plugin("model '" + r.name + "'", [&] { return model->describe(); });
    std::printf("architecture:\n%s%s", description.c_str(),
                !description.empty() && description.back() == '\n' ? "" : "\n");
    // What editors see of the model: its edit sites and every parameter.
    const std::vector<EditSite> sites = call_plugin("model '" + r.name + "'", [&] { return model->edit_sites(); });
    std::printf("edit sites (%zu; editors' `layers` index these blocks):\n", sites.size());
    for (const EditSite& site : sites)
      std::printf("  block %d: weight %s [%lld, %lld], in %s, out %s, block out %s\n", site.block, site.weight.c_str(),
                  static_cast<long long>(site.output_dim), static_cast<long long>(site.input_dim),
                  site.input_tap.c_str(), site.output_tap.c_str(), site.block_output_tap.c_str());
    const std::vector<std::string> names = call_plugin("model '" + r.name + "'", [&] { return model->parameter_names(); });
    std::printf("parameters (%zu):\n", names.size());
    for (const std::string& name : names)
      std::printf("  %s %s\n", name.c_str(), shape_string(model->parameter(name)).c_str());
  }
  return r.status == PluginStatus::ok ? 0 : 4;
}

}  // namespace

int cmd_plugins(const std::vector<std::string>& args, CommonOptions& common) {
  po::options_description desc("mike plugins list | mike plugins info NAME [--kind KIND]");
  desc.add_options()("help,h", "show help")                                      //
      ("action", po::value<std::string>(), "list | info")                        //
      ("name", po::value<std::string>(), "plugin name (for info)")               //
      ("kind", po::value<std::string>()->default_value(""), "model, editor or metric (for info)");
  po::positional_options_description positional;
  positional.add("action", 1).add("name", 1);
  auto vm = parse_command("plugins", args, desc, positional, common);
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  std::string action = vm.count("action") ? vm["action"].as<std::string>() : "list";
  if (action == "list") {
    if (vm.count("name")) throw UsageError("plugins list: unexpected argument '" + vm["name"].as<std::string>() + "'");
    return list(discover(common));
  }
  if (action == "info") {
    if (!vm.count("name")) throw UsageError("plugins info: which plugin? usage: mike plugins info NAME");
    return info(discover(common), vm["name"].as<std::string>(), vm["kind"].as<std::string>());
  }
  throw UsageError("plugins: unknown action '" + action + "'; use `mike plugins list` or `mike plugins info NAME`");
}

}  // namespace mike::cli
