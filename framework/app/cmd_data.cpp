// `mike data synth|validate|stats`: make the synthetic world, check a dataset
// (every problem in one pass), and summarise one with a contact sheet.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>

#include "commands.h"
#include "data/contact_sheet.h"
#include "data/dataset.h"
#include "data/synth.h"
#include "data/world.h"
#include "mike/config.h"
#include "mike/error.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace mike::cli {

namespace {

const char* const kDataUsage =
    "usage: mike data <action> [options]\n\n"
    "actions:\n"
    "  synth --out DIR [--force] [--config FILE] [--seed S] [--entities N] [--images-per-entity K] [--size PX]\n"
    "        [--edit-targets text_names|novel_names|known_names]\n"
    "                      generate the synthetic fine-grained entity world (deterministic from the seed)\n"
    "  validate DIR [--format mike|mmedit|vlkeb] [--allow-outside-root]\n"
    "                      check every record and image; lists all problems, exits 3 if any\n"
    "  stats DIR [--sheet PNG] [--columns N]\n"
    "                      print counts and write a contact sheet of sibling entities\n";

std::string megabytes(std::uintmax_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f MB", static_cast<double>(bytes) / 1e6);
  return text;
}

int data_synth(const std::vector<std::string>& args, CommonOptions& common) {
  po::options_description desc("mike data synth");
  desc.add_options()                                                                                 //
      ("help,h", "show help")                                                                        //
      ("out,o", po::value<std::string>(), "output folder (default: the config's `dir`)")             //
      ("config,c", po::value<std::string>(), "data config YAML with a `synth:` section, e.g. configs/data/synth_full.yaml")  //
      ("seed", po::value<std::int64_t>(), "random seed")                                             //
      ("entities", po::value<int>(), "number of entities over all categories and splits")          //
      ("images-per-entity", po::value<int>(), "views per entity (>= 3)")                             //
      ("size", po::value<int>(), "image side in pixels")                                             //
      ("edit-targets", po::value<std::string>(),
       "text_names (fresh names the model meets in text only; default), novel_names (names it never saw) or "
       "known_names (counterfactual: a known entity's name)")  //
      ("threads", po::value<int>(), "worker threads (0 = all cores; output does not depend on it)")  //
      ("force", "replace the world the --out folder already holds");
  po::variables_map vm = parse_command("data synth", args, desc, {}, common);
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  data::SynthOptions options;
  std::string out;
  if (vm.count("config")) {
    Config config = Config::from_file(vm["config"].as<std::string>());
    if (config.has("synth")) options = data::synth_options_from_config(config.sub("synth"));
    if (config.has("dir")) out = config.get<std::string>("dir");
  }
  if (vm.count("out")) out = vm["out"].as<std::string>();
  if (out.empty()) throw UsageError("data synth: say where to write the world: --out DIR (or --config with `dir`)");
  if (vm.count("seed")) options.seed = static_cast<std::uint64_t>(vm["seed"].as<std::int64_t>());
  if (vm.count("entities")) options.entities = vm["entities"].as<int>();
  if (vm.count("images-per-entity")) options.images_per_entity = vm["images-per-entity"].as<int>();
  if (vm.count("size")) options.image_size = vm["size"].as<int>();
  if (vm.count("edit-targets")) options.edit_targets = vm["edit-targets"].as<std::string>();
  if (vm.count("threads")) options.threads = vm["threads"].as<int>();
  // A world is the user's data: replacing one takes a word from them.
  if (!vm.count("force") && fs::exists(fs::path(out) / "world.json"))
    throw DataError("'" + out + "' already holds a world (world.json); nothing was written. fix: pick a new --out "
                    "folder, or add --force to replace that world");
  auto start = std::chrono::steady_clock::now();
  data::SynthSummary summary = data::generate_world(out, options);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("wrote %d entities, %d images, %d edit records, %d pretraining records (%s) to %s in %.1f s\n",
              summary.entities, summary.images, summary.records, summary.pretrain_records,
              megabytes(summary.bytes).c_str(), out.c_str(), seconds);
  return 0;
}

int data_validate(const std::vector<std::string>& args, CommonOptions& common) {
  po::options_description desc("mike data validate");
  desc.add_options()                                                              //
      ("help,h", "show help")                                                     //
      ("dir", po::value<std::string>(), "dataset folder (or MMEdit/VLKEB JSON file)")  //
      ("format,f", po::value<std::string>()->default_value("mike"), "mike | mmedit | vlkeb")  //
      ("allow-outside-root", "accept image paths outside the dataset folder");
  po::positional_options_description positional;
  positional.add("dir", 1);
  po::variables_map vm = parse_command("data validate", args, desc, positional, common);
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  if (!vm.count("dir")) throw UsageError("data validate: give the dataset folder, e.g. mike data validate data/synth");
  const std::string dir = vm["dir"].as<std::string>();
  data::LoadOptions options;
  options.allow_outside_root = vm.count("allow-outside-root") > 0;
  auto problems = data::validate_dataset(dir, vm["format"].as<std::string>(), options);
  if (problems.empty()) {
    std::printf("%s: valid (%s format)\n", dir.c_str(), vm["format"].as<std::string>().c_str());
    return 0;
  }
  std::fflush(stdout);
  for (const auto& p : problems) std::fprintf(stderr, "%s\n", p.to_string().c_str());
  std::fprintf(stderr, "mike: error: %s: %zu problem%s found\n", dir.c_str(), problems.size(),
               problems.size() == 1 ? "" : "s");
  return DataError("").exit_code();
}

int data_stats(const std::vector<std::string>& args, CommonOptions& common) {
  po::options_description desc("mike data stats");
  desc.add_options()                                                              //
      ("help,h", "show help")                                                     //
      ("dir", po::value<std::string>(), "dataset folder (mike format)")           //
      ("sheet", po::value<std::string>(), "contact sheet PNG path (default DIR/contact_sheet.png)")  //
      ("columns", po::value<int>()->default_value(8), "siblings per category row in the sheet");
  po::positional_options_description positional;
  positional.add("dir", 1);
  po::variables_map vm = parse_command("data stats", args, desc, positional, common);
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  if (!vm.count("dir")) throw UsageError("data stats: give the dataset folder, e.g. mike data stats data/synth");
  const fs::path dir = vm["dir"].as<std::string>();
  data::World world = data::load_world(dir);
  std::map<std::string, int> per_split;
  std::map<std::string, int> per_category;
  std::size_t images = 0;
  for (const auto& e : world.entities) {
    ++per_split[e.split];
    ++per_category[e.category];
    images += e.images.size();
  }
  std::printf("world: %zu entities in %zu categories, %zu entity views, %d px, seed %llu\n", world.entities.size(),
              world.categories.size(), images, world.image_size, static_cast<unsigned long long>(world.seed));
  std::printf("entities by split:");
  for (const auto& [split, n] : per_split) std::printf(" %s %d", split.c_str(), n);
  std::printf("\nentities by category:");
  for (const auto& [category, n] : per_category) std::printf(" %s %d", category.c_str(), n);
  std::printf("\nedit records:");
  data::LoadOptions fast;
  fast.check_images = false;
  fast.allow_empty = true;
  for (const char* split : {"train", "dev", "test"}) {
    auto dataset = data::load_dataset(dir, split, "mike", fast);
    std::size_t csr = 0;
    for (const auto& r : dataset.records) csr += r.csr.size();
    std::printf(" %s %zu (%zu CSR scenes)", split, dataset.records.size(), csr);
  }
  std::map<std::string, int> per_kind;
  if (fs::exists(dir / "pretrain.jsonl")) {
    for (const auto& r : data::load_pretrain_corpus(dir, fast)) ++per_kind[r.kind];
  }
  std::printf("\npretraining records:");
  for (const auto& [kind, n] : per_kind) std::printf(" %s %d", kind.c_str(), n);
  std::uintmax_t bytes = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) bytes += entry.file_size();
  }
  std::printf("\ndisk: %s\n", megabytes(bytes).c_str());
  data::ContactSheetOptions sheet_options;
  sheet_options.columns = vm["columns"].as<int>();
  if (sheet_options.columns < 1) throw UsageError("data stats: --columns must be >= 1");
  fs::path sheet = vm.count("sheet") ? fs::path(vm["sheet"].as<std::string>()) : dir / "contact_sheet.png";
  data::write_png(sheet, data::make_contact_sheet(world, sheet_options));
  std::printf("contact sheet: %s\n", sheet.string().c_str());
  return 0;
}

}  // namespace

int cmd_data(const std::vector<std::string>& args, CommonOptions& common) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kDataUsage;
    return args.empty() ? 2 : 0;
  }
  const std::string action = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (action == "synth") return data_synth(rest, common);
  if (action == "validate") return data_validate(rest, common);
  if (action == "stats") return data_stats(rest, common);
  throw UsageError("data: unknown action '" + action + "'; use synth, validate or stats\n\n" + kDataUsage);
}

}  // namespace mike::cli
