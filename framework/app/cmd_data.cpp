// `mike data` — placeholder until issue #5 lands: it refuses clearly
// instead of pretending to work.
#include <iostream>

#include "commands.h"
#include "mike/error.h"

namespace po = boost::program_options;

namespace mike::cli {

int cmd_data(const std::vector<std::string>& args, CommonOptions& common) {
  po::options_description desc("mike data");
  desc.add_options()("help,h", "show help");
  po::positional_options_description positional;
  (void)parse_command("data", args, desc, positional, common);
  throw UsageError("`mike data` is not available in this build yet (tracked in issue #5)");
}

}  // namespace mike::cli
