// `mike pretrain` — placeholder until issue #6 lands: it refuses clearly
// instead of pretending to work.
#include <iostream>

#include "commands.h"
#include "mike/error.h"

namespace po = boost::program_options;

namespace mike::cli {

int cmd_pretrain(const std::vector<std::string>& args, CommonOptions& common) {
  po::options_description desc("mike pretrain");
  desc.add_options()("help,h", "show help");
  po::positional_options_description positional;
  (void)parse_command("pretrain", args, desc, positional, common);
  throw UsageError("`mike pretrain` is not available in this build yet (tracked in issue #6)");
}

}  // namespace mike::cli
