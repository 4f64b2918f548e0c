// `mike report` — placeholder until issue #7 lands: it refuses clearly
// instead of pretending to work.
#include <iostream>

#include "commands.h"
#include "mike/error.h"

namespace po = boost::program_options;

namespace mike::cli {

int cmd_report(const std::vector<std::string>& args, CommonOptions& common) {
  po::options_description desc("mike report");
  desc.add_options()("help,h", "show help");
  po::positional_options_description positional;
  (void)parse_command("report", args, desc, positional, common);
  throw UsageError("`mike report` is not available in this build yet (tracked in issue #7)");
}

}  // namespace mike::cli
