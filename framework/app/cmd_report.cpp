// `mike report <run or sweep dir>`: tables (Markdown, CSV, terminal) and plots.
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "mike/error.h"
#include "report/report.h"

namespace po = boost::program_options;

namespace mike::cli {

int cmd_report(const std::vector<std::string>& args, CommonOptions& common) {
  po::options_description desc("mike report DIR [--no-plots] [--baseline JOB]");
  desc.add_options()("help,h", "show help")                                    //
      ("dir", po::value<std::string>(), "a run dir or a sweep dir")            //
      ("no-plots", "write the tables only")                                    //
      ("baseline", po::value<std::string>()->default_value(""),
       "pair every job of the sweep with this one (its row label, e.g. grace, or its directory, e.g. 1); "
       "default: every pair up to four jobs, else each against the first");
  po::positional_options_description positional;
  positional.add("dir", 1);
  auto vm = parse_command("report", args, desc, positional, common);
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  if (!vm.count("dir")) throw UsageError("report: which run? usage: mike report DIR (a run or sweep directory)");
  ReportFiles files = write_report(vm["dir"].as<std::string>(), !vm.count("no-plots"), vm["baseline"].as<std::string>());
  std::printf("%s\n%d job(s)\ntable: %s\ncsv:   %s\n", files.table.c_str(), files.jobs, files.markdown.c_str(),
              files.csv.c_str());
  for (const auto& plot : files.plots) std::printf("plot:  %s\n", plot.c_str());
  return 0;
}

}  // namespace mike::cli
