#include <spdlog/spdlog.h>

#include <algorithm>
#include <sstream>

#include "commands.h"
#include "log/logging.h"
#include "mike/error.h"

namespace po = boost::program_options;

namespace mike::cli {

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
