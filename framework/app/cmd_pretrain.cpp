// `mike pretrain [overrides...]` — train a model preset from scratch on the
// dataset's pretraining corpus and cache it by config hash (pretrain/pretrainer.h).
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "commands.h"
#include "config/composer.h"
#include "mike/error.h"
#include "plugins/plugin_registry.h"
#include "pretrain/pretrainer.h"

namespace po = boost::program_options;

namespace mike::cli {

int cmd_pretrain(const std::vector<std::string>& args, CommonOptions& common) {
  po::options_description desc(
      "mike pretrain [options] [overrides...]\n"
      "  e.g. mike pretrain model=llava_s data=synth model.pretrain.steps=500\n"
      "Trains root.model on <data.dir>/pretrain.jsonl; the result is cached under $MIKE_CACHE\n"
      "(default ~/.cache/mike)/pretrain/<plugin>-<config hash>/ and reused by `mike run`");
  std::vector<std::string> config_dirs;
  std::string config_name = "config";
  desc.add_options()("help,h", "show help")                                                          //
      ("config-dir", po::value(&config_dirs)->composing(), kConfigDirHelp)                           //
      ("config-name", po::value(&config_name)->default_value("config"), "primary config file")        //
      ("resume", "continue an interrupted pretraining from its last periodic checkpoint")          //
      ("force", "retrain even when the cache already holds this model")                            //
      ("no-progress", "no progress bar")                                                             //
      ("overrides", po::value<std::vector<std::string>>()->multitoken(), "key=value overrides");
  po::positional_options_description positional;
  positional.add("overrides", -1);
  po::variables_map vm = parse_command("pretrain", args, desc, positional, common);
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  PluginRegistry registry;
  registry.discover(PluginRegistry::default_search_path(common.plugin_paths));
  std::vector<std::string> overrides;
  if (vm.count("overrides")) overrides = vm["overrides"].as<std::vector<std::string>>();
  const ComposeRequest request = compose_request(config_search_path(config_dirs), config_name, overrides, registry);
  const Config config = compose_config(request).config;

  PretrainRunOptions options;
  options.resume = vm.count("resume") > 0;
  options.force = vm.count("force") > 0;
  options.progress = vm.count("no-progress") == 0;
  options.plugin_paths = common.plugin_paths;
  const PretrainReport report = run_pretraining(config, options);
  std::printf("checkpoint: %s%s\n", report.checkpoint_dir.c_str(), report.from_cache ? " (cached)" : "");
  std::printf("steps: %d  train time: %.1f s  final loss: %.4f\n", report.steps, report.seconds, report.final_loss);
  for (const auto& [name, value] : report.accuracy)
    std::printf("%-14s exact match %5.1f%%  (n=%d)\n", name.c_str(), 100.0 * value, report.eval_counts.at(name));
  return 0;
}

}  // namespace mike::cli
