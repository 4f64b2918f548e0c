// `mike run` — placeholder until issue #4 lands: it refuses clearly
// instead of pretending to work.
#include <iostream>

#include "commands.h"
#include "mike/error.h"

namespace po = boost::program_options;

namespace mike::cli {

int cmd_run(const std::vector<std::string>& args, CommonOptions& common) {
  po::options_description desc("mike run");
  desc.add_options()("help,h", "show help");
  po::positional_options_description positional;
  (void)parse_command("run", args, desc, positional, common);
  throw UsageError("`mike run` is not available in this build yet (tracked in issue #4)");
}

}  // namespace mike::cli
