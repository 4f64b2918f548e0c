#include <spdlog/spdlog.h>

#include <algorithm>
#include <sstream>

#include "commands.h"
#include "config/composer.h"
#include "log/logging.h"
#include "mike/error.h"
#include "plugins/plugin_registry.h"
#include "system/install_layout.h"

namespace po = boost::program_options;

namespace mike::cli {

const char* const kConfigDirHelp =
    "folder of config groups and primary configs; repeatable: folders are searched in the order given and the "
    "first that has the primary config or a group option wins (a group's options are those of all folders); "
    "default ./configs. The installed configs (<prefix>/share/mike/configs) are searched last";

std::vector<std::filesystem::path> config_search_path(const std::vector<std::string>& cli_dirs) {
  std::vector<std::filesystem::path> dirs(cli_dirs.begin(), cli_dirs.end());
  if (dirs.empty()) dirs.emplace_back("configs");
  std::error_code error;
  const std::filesystem::path installed = installed_config_dir();
  if (!executable_path().empty() && std::filesystem::is_directory(installed, error)) {
    bool listed = false;
    for (const auto& dir : dirs)
      listed = listed || std::filesystem::equivalent(dir, installed, error);
    if (!listed) dirs.push_back(installed);
  }
  return dirs;
}

ComposeRequest compose_request(const std::vector<std::filesystem::path>& config_dirs, const std::string& config_name,
                               const std::vector<std::string>& overrides, const PluginRegistry& registry) {
  ComposeRequest request;
  request.config_dir = config_dirs.empty() ? std::filesystem::path("configs") : config_dirs.front();
  if (config_dirs.size() > 1) request.more_config_dirs.assign(config_dirs.begin() + 1, config_dirs.end());
  request.config_name = config_name;
  request.overrides = overrides;
  request.plugin_defaults = [&registry](const std::string& group,
                                        const std::string& plugin) -> std::optional<PluginDefaults> {
    const PluginRecord* record = registry.find(group, plugin);
    if (!record) {
      // A refused plugin (a damaged file shadowing a good one, ...) fails here
      // with its reason and file, not later as "key not in the config".
      for (const PluginRecord& r : registry.records())
        if (r.kind == group && r.name == plugin && r.status == PluginStatus::refused) registry.require(group, plugin);
      return std::nullopt;
    }
    return PluginDefaults{record->default_config, "plugin " + group + " '" + plugin + "' defaults (" + record->file + ")"};
  };
  request.plugin_names = [&registry](const std::string& group) { return registry.names(group); };
  return request;
}

void add_common_options(po::options_description& desc) {
  desc.add_options()                                                     //
      ("verbose,v", "more log output (repeatable)")                       //
      ("quiet,q", "warnings and errors only")                            //
      ("plugin-path,p", po::value<std::vector<std::string>>()->composing(), "extra plugin directory");
}

po::variables_map parse_command(const std::string& command, const std::vector<std::string>& args,
                                po::options_description desc, const po::positional_options_description& positional,
                                CommonOptions& common) {
  add_common_options(desc);
  po::variables_map vm;
  try {
    po::parsed_options parsed = po::command_line_parser(args)
                                    .options(desc)
                                    .positional(positional)
                                    .style(po::command_line_style::default_style &
                                           ~po::command_line_style::allow_guessing)
                                    .run();
    // -v/-q may repeat; count them here and keep them out of the map.
    auto& options = parsed.options;
    for (const auto& option : options) {
      if (option.string_key == "verbose") ++common.verbosity;
      if (option.string_key == "quiet") --common.verbosity;
    }
    options.erase(std::remove_if(options.begin(), options.end(),
                                 [](const po::option& o) { return o.string_key == "verbose" || o.string_key == "quiet"; }),
                  options.end());
    po::store(parsed, vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::ostringstream help;
    help << desc;
    throw UsageError(command + ": " + e.what() + "\n" + help.str());
  }
  if (vm.count("plugin-path")) {
    for (const auto& p : vm["plugin-path"].as<std::vector<std::string>>()) common.plugin_paths.push_back(p);
  }
  init_logging(common.verbosity);
  return vm;
}

}  // namespace mike::cli
