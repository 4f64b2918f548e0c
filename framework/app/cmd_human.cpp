// `mike human export|import`: the blinded rating sheet for human evaluation
// of ELC captions, and the scores, agreement and correlations of its ratings
// (human/rating_sheet.h, human/human_scores.h, docs/human_eval.md).
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "human/human_scores.h"
#include "human/rating_sheet.h"
#include "system/text_file.h"
#include "mike/error.h"

namespace po = boost::program_options;

namespace mike::cli {

namespace {

const char* const kHumanUsage =
    "usage: mike human <action> [options]\n\n"
    "actions:\n"
    "  export DIR --out OUT [--per-system N] [--seed S]\n"
    "                      a blinded offline rating sheet (OUT/sheet/) of the ELC captions of the task=elc\n"
    "                      run(s) under DIR, and its key (OUT/key.csv, for the researcher only)\n"
    "  import RATINGS.csv... --key KEY [--out REPORT.md]\n"
    "                      per-system human scores with CIs, inter-rater agreement, and Spearman's rho of the\n"
    "                      ratings with mention / BLEU-4 / ROUGE-L\n";

int human_export(const std::vector<std::string>& args, CommonOptions& common) {
  po::options_description desc("mike human export DIR --out OUT");
  desc.add_options()                                                                               //
      ("help,h", "show help")                                                                      //
      ("dir", po::value<std::string>(), "a task=elc run dir or a sweep dir (one system per job)")  //
      ("out,o", po::value<std::string>(), "a new folder for the sheet and its key")               //
      ("per-system", po::value<int>()->default_value(20), "entities rated (each with every system's caption)")  //
      ("seed", po::value<std::uint64_t>()->default_value(0), "which entities, the caption order and the ids");
  po::positional_options_description positional;
  positional.add("dir", 1);
  auto vm = parse_command("human export", args, desc, positional, common);
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  if (!vm.count("dir") || !vm.count("out"))
    throw UsageError("human export: usage: mike human export DIR --out OUT (DIR: a task=elc run or sweep)");
  RatingSheetOptions options;
  options.per_system = vm["per-system"].as<int>();
  options.seed = vm["seed"].as<std::uint64_t>();
  RatingSheetFiles files = write_rating_sheet(vm["dir"].as<std::string>(), vm["out"].as<std::string>(), options);
  std::printf("%d entities x %zu systems = %d captions to rate\n", files.records, files.systems.size(),
              files.items_written);
  for (const std::string& system : files.systems) std::printf("  system: %s\n", system.c_str());
  std::printf("sheet: %s (give raters the folder %s)\nitems: %s\nkey:   %s (keep it from the raters)\n",
              files.sheet.c_str(), files.sheet.parent_path().c_str(), files.items.c_str(), files.key.c_str());
  return 0;
}

int human_import(const std::vector<std::string>& args, CommonOptions& common) {
  po::options_description desc("mike human import RATINGS.csv... --key KEY");
  desc.add_options()                                                                          //
      ("help,h", "show help")                                                                 //
      ("ratings", po::value<std::vector<std::string>>(), "ratings CSV files (one or more raters each)")  //
      ("key", po::value<std::string>(), "the key.csv `mike human export` wrote with the sheet")        //
      ("out,o", po::value<std::string>(), "also write the report here (a new file)");
  po::positional_options_description positional;
  positional.add("ratings", -1);
  auto vm = parse_command("human import", args, desc, positional, common);
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  if (!vm.count("ratings") || !vm.count("key"))
    throw UsageError("human import: usage: mike human import RATINGS.csv... --key KEY");
  std::vector<std::filesystem::path> files;
  for (const std::string& file : vm["ratings"].as<std::vector<std::string>>()) files.emplace_back(file);
  const std::filesystem::path out = vm.count("out") ? vm["out"].as<std::string>() : std::string();
  if (!out.empty() && std::filesystem::exists(out))
    throw UsageError("human import: '" + out.string() + "' exists; it is never overwritten; fix: give --out a new file");
  const HumanScores scores = import_ratings(files, vm["key"].as<std::string>());
  std::printf("%s", scores.markdown.c_str());
  if (!out.empty()) {
    write_text_file(out, scores.markdown);
    std::printf("\nreport: %s\n", out.c_str());
  }
  return 0;
}

}  // namespace

int cmd_human(const std::vector<std::string>& args, CommonOptions& common) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kHumanUsage;
    return args.empty() ? 2 : 0;
  }
  const std::string action = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (action == "export") return human_export(rest, common);
  if (action == "import") return human_import(rest, common);
  throw UsageError("human: unknown action '" + action + "'; use export or import\n\n" + kHumanUsage);
}

}  // namespace mike::cli
