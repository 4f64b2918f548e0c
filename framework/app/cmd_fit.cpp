// `mike fit [overrides...]` — train the configured editor (MEND, SERAC, KE)
// on the dataset's train split and cache the result (run/editor_fit.h),
// without running the benchmark; `mike run` with the same config reuses it.
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "config/composer.h"
#include "plugins/plugin_registry.h"
#include "run/editor_fit.h"
#include "run/experiment.h"

namespace po = boost::program_options;

namespace mike::cli {

int cmd_fit(const std::vector<std::string>& args, CommonOptions& common) {
  po::options_description desc(
      "mike fit [options] [overrides...]\n"
      "  e.g. mike fit editor=mend\n"
      "Fits the composed config's editor on <data.dir>'s train split (trained editors only: MEND, SERAC, KE)\n"
      "and caches it under $MIKE_CACHE (default ~/.cache/mike)/fit/<editor>-<key>.safetensors, keyed by the\n"
      "model's parameters, the editor config, the seed and the training data; `mike run` with the same\n"
      "config loads it instead of fitting. A killed fit leaves no cache entry: run it again.");
  std::vector<std::string> config_dirs;
  std::string config_name = "config";
  desc.add_options()("help,h", "show help")                                                    //
      ("config-dir", po::value(&config_dirs)->composing(), kConfigDirHelp)                     //
      ("config-name", po::value(&config_name)->default_value("config"), "primary config file")  //
      ("force", "fit again even when the cache already holds this fit")                        //
      ("overrides", po::value<std::vector<std::string>>()->multitoken(), "key=value overrides");
  po::positional_options_description positional;
  positional.add("overrides", -1);
  po::variables_map vm = parse_command("fit", args, desc, positional, common);
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
  const std::string editor = config.sub("editor").get<std::string>("plugin");
  const FitOutcome outcome = fit_experiment_editor(config, common.plugin_paths, vm.count("force") > 0);
  if (!outcome.fitted) {
    std::printf("editor %s is not a trained editor: it has nothing to fit, and `mike run` uses it as it is\n",
                editor.c_str());
    return 0;
  }
  std::printf("fit: %s%s\n", outcome.file.c_str(), outcome.from_cache ? " (cached)" : "");
  std::printf("train edits: %zu  (train locality probes left out because the evaluated split uses them: %zu)\n",
              outcome.train_edits, outcome.dropped_locality);
  std::printf("%s: %.1f s\n", outcome.from_cache ? "load time" : "fit time", outcome.seconds);
  return 0;
}

}  // namespace mike::cli
