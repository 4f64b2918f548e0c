// `mike pretrain [overrides...]` — train a model preset from scratch on the
// dataset's pretraining corpus and cache it by config hash (pretrain/pretrainer.h).
// `mike pretrain -m model=llava_xs,llava_s` pretrains every combination in turn
// (the sweep syntax of `mike run -m`); each result is cached on its own, so a
// sweep that was killed is continued by running it again (with --resume, the
// interrupted job continues from its last periodic checkpoint).
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>
#include <set>

#include "commands.h"
#include "config/composer.h"
#include "mike/error.h"
#include "plugins/plugin_registry.h"
#include "pretrain/pretrainer.h"
#include "sweep/sweep_plan.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace mike::cli {

namespace {

void print_report(const PretrainReport& report) {
  std::printf("checkpoint: %s%s\n", report.checkpoint_dir.c_str(), report.from_cache ? " (cached)" : "");
  std::printf("steps: %d  train time: %.1f s  final loss: %.4f\n", report.steps, report.seconds, report.final_loss);
  for (const auto& [name, value] : report.accuracy)
    std::printf("%-14s exact match %5.1f%%  (n=%d)\n", name.c_str(), 100.0 * value, report.eval_counts.at(name));
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : " ") + item;
  return out;
}

// One row per job: its overrides, then every evaluation set's exact match,
// so the presets of a size ablation compare at a glance.
void print_sweep_table(const std::vector<std::vector<std::string>>& job_overrides,
                       const std::vector<PretrainReport>& reports) {
  std::set<std::string> sets;
  for (const PretrainReport& report : reports)
    for (const auto& [name, value] : report.accuracy) sets.insert(name);
  std::printf("\n| job | checkpoint | steps | train s |");
  for (const std::string& name : sets) std::printf(" %s |", name.c_str());
  std::printf("\n|---|---|---|---|");
  for (std::size_t i = 0; i < sets.size(); ++i) std::printf("---|");
  std::printf("\n");
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const PretrainReport& report = reports[i];
    std::printf("| %s | %s%s | %d | %.1f |", joined(job_overrides[i]).c_str(),
                report.checkpoint_dir.filename().c_str(), report.from_cache ? " (cached)" : "", report.steps,
                report.seconds);
    for (const std::string& name : sets) {
      auto found = report.accuracy.find(name);
      if (found == report.accuracy.end())
        std::printf(" – |");
      else
        std::printf(" %.1f%% (n=%d) |", 100.0 * found->second, report.eval_counts.at(name));
    }
    std::printf("\n");
  }
}

int pretrain_sweep(const std::vector<fs::path>& config_dirs, const std::string& config_name,
                   const std::vector<std::string>& overrides, const PluginRegistry& registry,
                   const PretrainRunOptions& options, bool dry_run) {
  const GroupOptionsFn group_options_fn = [config_dirs](const std::string& group) {
    return group_options(config_dirs, group);
  };
  // Pretraining sweeps are a handful of presets; the cap catches a typo
  // such as range(0,1000) before it queues days of training.
  constexpr std::size_t kMaxPretrainJobs = 64;
  const SweepPlan plan = plan_sweep(overrides, YAML::Node(), "", group_options_fn, kMaxPretrainJobs);
  if (plan.job_count() == 0) throw ConfigError("the sweep has no jobs; give every swept key at least one value");
  // Compose every job first: a bad value fails before hours of training start.
  std::vector<std::vector<std::string>> job_overrides;
  std::vector<Config> configs;
  for (std::size_t i = 0; i < plan.job_count(); ++i) {
    job_overrides.push_back(plan.job_overrides(i));
    try {
      configs.push_back(
          compose_config(compose_request(config_dirs, config_name, job_overrides.back(), registry)).config);
      validate_pretrain_settings(configs.back());
    } catch (const ConfigError& error) {
      throw ConfigError("pretrain sweep job " + std::to_string(i) + " (" + joined(job_overrides.back()) +
                        "): " + error.what() + "; nothing was trained");
    }
  }
  if (dry_run) {
    for (std::size_t i = 0; i < configs.size(); ++i) {
      const fs::path dir = pretrained_checkpoint_dir(configs[i]);
      const bool cached = fs::exists(dir / "model.safetensors");
      std::printf("%zu: %s -> %s%s\n", i, joined(job_overrides[i]).c_str(), dir.c_str(), cached ? " (cached)" : "");
    }
    std::fflush(stdout);
    std::fprintf(stderr, "%zu jobs (dry run: nothing was trained)\n", configs.size());
    return 0;
  }
  std::vector<PretrainReport> reports;
  for (std::size_t i = 0; i < configs.size(); ++i) {
    std::fflush(stdout);
    std::fprintf(stderr, "pretrain sweep: job %zu/%zu: %s\n", i + 1, configs.size(), joined(job_overrides[i]).c_str());
    try {
      reports.push_back(run_pretraining(configs[i], options));
    } catch (...) {
      // The jobs before this one are cached; say so, so the user reruns the
      // same command instead of starting over.
      if (!reports.empty()) print_sweep_table(job_overrides, reports);
      std::fprintf(stderr,
                   "pretrain sweep: stopped at job %zu/%zu (%s); the %zu job(s) before it are cached and a rerun of "
                   "the same command reuses them (add --resume to continue this job from its last checkpoint)\n",
                   i + 1, configs.size(), joined(job_overrides[i]).c_str(), reports.size());
      throw;
    }
    print_report(reports.back());
  }
  print_sweep_table(job_overrides, reports);
  return 0;
}

}  // namespace

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
      ("multirun,m", "pretrain every combination of the listed values in turn (model=llava_xs,llava_s)")  //
      ("dry-run", "with -m: list the jobs and their cache dirs, train nothing")                       //
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
  PretrainRunOptions options;
  options.resume = vm.count("resume") > 0;
  options.force = vm.count("force") > 0;
  options.progress = vm.count("no-progress") == 0;
  options.plugin_paths = common.plugin_paths;
  const std::vector<fs::path> search_path = config_search_path(config_dirs);
  if (vm.count("multirun"))
    return pretrain_sweep(search_path, config_name, overrides, registry, options, vm.count("dry-run") > 0);
  if (vm.count("dry-run")) throw UsageError("pretrain: --dry-run lists the jobs of a sweep; add -m");
  const ComposeRequest request = compose_request(search_path, config_name, overrides, registry);
  print_report(run_pretraining(compose_config(request).config, options));
  return 0;
}

}  // namespace mike::cli
