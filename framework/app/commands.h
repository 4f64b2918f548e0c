#pragma once
// Subcommands of the `mike` executable. Each parses its own arguments (plus
// the common options) and returns the process exit code; errors are thrown
// as mike::Error and turned into one message + exit code by main().
#include <boost/program_options.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace mike {
class PluginRegistry;
struct ComposeRequest;
}  // namespace mike

namespace mike::cli {

// Options accepted before and after the subcommand.
struct CommonOptions {
  int verbosity = 0;                       // -v raises, -q lowers
  std::vector<std::string> plugin_paths;   // --plugin-path, repeatable, colon-separated
};

// Adds -v/-q/--plugin-path to `desc`.
void add_common_options(boost::program_options::options_description& desc);
// Parses `args` against `desc` (+ common options, + positionals), applying
// common options to `common`. Unknown options throw UsageError naming
// `command`. Returns the parsed map.
boost::program_options::variables_map parse_command(
    const std::string& command, const std::vector<std::string>& args,
    boost::program_options::options_description desc,
    const boost::program_options::positional_options_description& positional, CommonOptions& common);

// The config folders a command composes from, in search order: each
// --config-dir as given (default: ./configs), then the installed configs
// (<prefix>/share/mike/configs, found from the executable) when they exist.
std::vector<std::filesystem::path> config_search_path(const std::vector<std::string>& cli_dirs);
// Help text of --config-dir (the same for every command that composes).
extern const char* const kConfigDirHelp;
// A compose request over those folders that knows the discovered plugins
// (their default configs, and their names for messages).
ComposeRequest compose_request(const std::vector<std::filesystem::path>& config_dirs, const std::string& config_name,
                               const std::vector<std::string>& overrides, const PluginRegistry& registry);

int cmd_plugins(const std::vector<std::string>& args, CommonOptions& common);
int cmd_run(const std::vector<std::string>& args, CommonOptions& common);
int cmd_data(const std::vector<std::string>& args, CommonOptions& common);
int cmd_fit(const std::vector<std::string>& args, CommonOptions& common);
int cmd_pretrain(const std::vector<std::string>& args, CommonOptions& common);
int cmd_report(const std::vector<std::string>& args, CommonOptions& common);
int cmd_sweep(const std::vector<std::string>& args, CommonOptions& common);
int cmd_model(const std::vector<std::string>& args, CommonOptions& common);
int cmd_human(const std::vector<std::string>& args, CommonOptions& common);

}  // namespace mike::cli
