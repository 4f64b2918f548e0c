#include "run/experiment.h"

#include "pretrain/pretrainer.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>

#include "config/config_impl.h"
#include "data/dataset.h"
#include "data/synth.h"
#include "data/synth_folder.h"
#include "launch/interrupt.h"
#include "mike/error.h"
#include "plugins/plugin_registry.h"
#include "run/editor_fit.h"
#include "run/runner.h"
#include "run/summary.h"
#include "system/build_info.h"
#include "system/memory_use.h"

namespace mike {

namespace {

std::string now_iso8601() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string hostname() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

// The metrics of each probe for the task: metric.probes.<task> (the metric
// group, configs/metric/). The host names no metric itself.
std::map<std::string, std::vector<std::string>> probe_metrics(const Config& config, Task task) {
  const std::string key = std::string("metric.probes.") + task_name(task);
  if (!config.has(key))
    throw ConfigError("the config has no " + key + ", so task '" + task_name(task) +
                      "' has no metrics; add `- metric: default` to the defaults list of the primary config "
                      "(configs/metric/default.yaml), or set " + key + ".<probe>=[<metric>, ...]");
  const Config table = config.sub(key);
  std::map<std::string, std::vector<std::string>> out;
  for (const std::string& probe : table.keys()) {
    if (std::find(kProbeNames.begin(), kProbeNames.end(), probe) == kProbeNames.end()) {
      std::string names;
      for (const char* name : kProbeNames) names += std::string(names.empty() ? "" : ", ") + name;
      throw ConfigError(key + "." + probe + " (from " + table.origin(probe) + ") is not a probe; the probes are " +
                        names + "; fix the key");
    }
    out[probe] = table.get<std::vector<std::string>>(probe);
  }
  return out;
}

// One metric plugin per name the probes use, configured by metric.<name>
// (its plugin and settings, composed over the plugin's default config).
// Adds "metric <name> <plugin> <version>" lines to `versions`.
std::map<std::string, std::shared_ptr<Metric>> create_metrics(const Config& config, const RunnerOptions& options,
                                                               const EvaluatorOptions& eval,
                                                               const PluginRegistry& registry, std::string& versions) {
  std::map<std::string, std::shared_ptr<Metric>> metrics;
  const std::string table = std::string("metric.probes.") + task_name(options.task);
  for (const auto& [probe, names] : options.probe_metrics)
    for (const std::string& name : names) {
      if (metrics.count(name)) continue;
      const std::string key = "metric." + name;
      if (name == "probes" || name.find('.') != std::string::npos || !config.has(key) ||
          !config.sub(key).has("plugin")) {
        std::string declared;
        for (const std::string& k : config.sub("metric").keys())
          if (k != "probes") declared += (declared.empty() ? "" : ", ") + k;
        throw ConfigError(table + "." + probe + " (from " + config.origin(table + "." + probe) + ") names metric '" +
                          name + "', but there is no " + key + " section with a plugin; declared metrics: " +
                          (declared.empty() ? "(none)" : declared) + "; use one of them or add +" + key +
                          "={plugin: <metric plugin>}");
      }
      const Config section = config.sub(key);
      // The runner keeps eval.top_k tokens per answer position; a metric
      // asking for more would silently compare fewer.
      if (section.has("top_k") && section.get<int>("top_k") > eval.top_k) {
        const std::string eval_origin = config.has("eval.top_k") ? config.origin("eval.top_k") : "";
        throw ConfigError(key + ".top_k is " + std::to_string(section.get<int>("top_k")) + " (from " +
                          section.origin("top_k") + "), but the runner keeps only eval.top_k = " +
                          std::to_string(eval.top_k) + " top tokens per answer position" +
                          (eval_origin.empty() ? "" : " (from " + eval_origin + ")") + "; set eval.top_k=" +
                          std::to_string(section.get<int>("top_k")) + " or lower " + key + ".top_k");
      }
      const std::string plugin = section.get<std::string>("plugin");
      metrics[name] = registry.create_metric(plugin, section);
      versions += "metric " + name + " " + plugin + " " + registry.find("metric", plugin)->version + "\n";
    }
  return metrics;
}

// Bounds of the eval counts: each sizes a tensor or a loop.
constexpr int kMaxEvalCount = 4096;
constexpr int kMaxTopK = 1024;

EvaluatorOptions evaluator_options(const Config& config, Task task) {
  EvaluatorOptions eval;
  auto in_range = [&](const char* key, int fallback, int lo, int hi, const char* why) {
    return static_cast<int>(get_int_in_range(config, key, fallback, lo, hi, why));
  };
  eval.batch_size = in_range("eval.batch_size", 16, 1, kMaxEvalCount, "inputs per forward pass");
  eval.top_k = in_range("eval.top_k", 5, 1, kMaxTopK, "top tokens kept per answer position");
  eval.max_new_tokens =
      in_range("eval.max_new_tokens", task == Task::kElc ? 40 : 16, 1, kMaxEvalCount, "tokens generated per answer");
  eval.position_top_k =
      in_range("eval.position_top_k", eval.position_top_k, 0, kMaxTopK, "0 = off; 10 for EasyEdit's M-Loc");
  eval.seed_generation_from_scores = config.get_or<bool>("eval.reuse_teacher_forcing", true);
  return eval;
}

RunnerOptions runner_options(const Config& config) {
  RunnerOptions options;
  options.task = parse_task(config.get_or<std::string>("task", "vna"));
  options.igen = config.get_or<std::string>("igen", "other_view");
  if (options.igen != "augmented" && options.igen != "other_view" && options.igen != "scene")
    throw ConfigError("igen '" + options.igen + "' is not one of augmented, other_view, scene; set e.g. igen=other_view (photos no edit uses)");
  if (!config.has("protocol"))
    throw ConfigError(
        "the config has no 'protocol' section, which says how edits are applied (protocol.name: single, "
        "sequential, batch or multi_step); put it back (drop ~protocol) or add one, e.g. "
        "protocol: {name: single} in the config file, or ++protocol.name=single");
  Config protocol = config.sub("protocol");
  options.protocol = parse_protocol(protocol.get_or<std::string>("name", "single"));
  options.batch_edits = protocol.get_or<int>("batch_size", 1);
  for (std::int64_t checkpoint : get_int_list_in_range(protocol, "checkpoints", 1, INT32_MAX, "edits applied so far"))
    options.checkpoints.push_back(static_cast<int>(checkpoint));
  options.steps = protocol.get_or<int>("steps", 4);
  options.log_taps = config.get_or<std::vector<std::string>>("log.taps", {});
  options.log_weights = config.get_or<bool>("log.weights", true);
  options.log_generations = config.get_or<bool>("log.generations", true);
  options.probe_metrics = probe_metrics(config, options.task);
  return options;
}

// What a job and `mike fit` both set up: threads, plugins, the evaluated
// split, the model and the editor.
struct ExperimentSetup {
  int threads = 1;
  RunnerOptions options;
  PluginRegistry registry;
  std::string format;
  std::filesystem::path data_dir;
  data::LoadOptions load;
  data::Dataset dataset;
  Config model_config, editor_config;
  std::string model_name, editor_name;
  std::shared_ptr<Model> model;
  std::shared_ptr<Editor> editor;
};

void set_up(const Config& config, const std::vector<std::string>& plugin_paths, ExperimentSetup& setup) {
  setup.threads = configure_threads(config);
  torch::manual_seed(static_cast<std::uint64_t>(config.get_or<std::int64_t>("seed", 0)));
  setup.options = runner_options(config);

  // Plugins.
  PluginRegistry& registry = setup.registry;
  registry.discover(PluginRegistry::default_search_path(plugin_paths));
  // Refusals matter only if the run needs that plugin, and then creating it says why.
  for (const std::string& warning : registry.warnings()) spdlog::debug("{}", warning);

  // Data: a dataset that exists is read, never rewritten; the default
  // synthetic world is generated on first use (data/synth_folder.h).
  Config data_config = config.sub("data");
  setup.format = data_config.get_or<std::string>("format", "mike");
  setup.data_dir = data::ready_data_dir(data_config);
  setup.load.allow_outside_root = data_config.get_or<bool>("allow_outside_root", false);
  setup.load.limit =
      static_cast<std::size_t>(get_int_in_range(data_config, "limit", 0, 0, INT32_MAX, "records to edit; 0 = all"));
  setup.dataset =
      data::load_dataset(setup.data_dir, data_config.get_or<std::string>("split", "test"), setup.format, setup.load);
  if (setup.dataset.records.empty()) throw DataError(setup.dataset.file.string() + " has no records to edit");

  // Model and editor.
  // A preset with a `pretrain` section runs on its pretrained weights (cached
  // by config hash); an unknown plugin is reported before the cache is asked.
  registry.require("model", config.sub("model").get<std::string>("plugin"));
  setup.model_config = model_config_for_run(config, plugin_paths);
  setup.editor_config = config.sub("editor");
  setup.model_name = setup.model_config.get<std::string>("plugin");
  setup.editor_name = setup.editor_config.get<std::string>("plugin");
  setup.model = registry.create_model(setup.model_name, setup.model_config);
  setup.threads = settle_threads(config, parameter_count(*setup.model));
  setup.editor = registry.create_editor(setup.editor_name, setup.editor_config);
}

// Trained editors (MEND, SERAC, KE) learn from the train split first, or
// load their cached fit (run/editor_fit.h); other editors read no train data.
FitOutcome fit_for_setup(const Config& config, const ExperimentSetup& setup, Evaluator& evaluator, bool force) {
  FitRequest fit;
  fit.data_dir = setup.data_dir;
  fit.format = setup.format;
  fit.load = setup.load;
  fit.task = setup.options.task;
  fit.igen = setup.options.igen;
  fit.editor_plugin = setup.editor_name;
  fit.editor_version = setup.registry.find("editor", setup.editor_name)->version;
  fit.editor_config = setup.editor_config;
  fit.seed = static_cast<std::uint64_t>(config.get_or<std::int64_t>("seed", 0));
  fit.force = force;
  return fit_editor(fit, *setup.editor, "editor '" + setup.editor_name + "'", *setup.model, setup.dataset, evaluator);
}

}  // namespace

FitOutcome fit_experiment_editor(const Config& config, const std::vector<std::string>& plugin_paths, bool force) {
  ExperimentSetup setup;
  set_up(config, plugin_paths, setup);
  Evaluator evaluator(evaluator_options(config, setup.options.task));
  return fit_for_setup(config, setup, evaluator, force);
}

void run_experiment(const Config& config, const JobContext& context) {
  auto started = std::chrono::steady_clock::now();
  // A sweep runs its jobs one after another in this process: each job's
  // summary reports its own peak, not the largest of the jobs before it.
  const bool peak_is_this_jobs = reset_peak_rss();
  ExperimentSetup setup;
  set_up(config, context.plugin_paths, setup);
  const RunnerOptions& options = setup.options;
  const int threads = setup.threads;
  PluginRegistry& registry = setup.registry;
  const Config data_config = config.sub("data");
  const std::string& format = setup.format;
  const std::filesystem::path& data_dir = setup.data_dir;
  const data::Dataset& dataset = setup.dataset;
  const Config& model_config = setup.model_config;
  const std::string& model_name = setup.model_name;
  const std::string& editor_name = setup.editor_name;
  Model* model = setup.model.get();
  Editor* editor = setup.editor.get();
  Plugins plugins;
  plugins.model = model;
  plugins.editor = editor;
  plugins.model_label = "model '" + model_name + "'";
  plugins.editor_label = "editor '" + editor_name + "'";
  std::string plugin_versions;
  for (const auto& [kind, name] : std::vector<std::pair<std::string, std::string>>{{"model", model_name},
                                                                                   {"editor", editor_name}})
    plugin_versions += kind + " " + name + " " + registry.find(kind, name)->version + "\n";
  const EvaluatorOptions eval = evaluator_options(config, options.task);
  plugins.metrics = create_metrics(config, options, eval, registry, plugin_versions);
  Evaluator evaluator(eval);

  const FitOutcome fitted = fit_for_setup(config, setup, evaluator, false);

  // The log.
  std::filesystem::path log_path = context.job_dir / "run.h5";
  std::unique_ptr<RunLog> log =
      std::filesystem::exists(log_path) ? RunLog::resume(log_path) : RunLog::create(log_path);
  if (log->edit_count() == 0) {
    log->set_attribute("mike_version", mike_version());
    log->set_attribute("git_sha", git_sha());
    log->set_attribute("git_dirty", git_dirty() ? "true" : "false");
    log->set_attribute("config", config.to_yaml());
    log->set_attribute("host", hostname());
    log->set_attribute("start_time", now_iso8601());
  } else {
    spdlog::info("resuming {} after {} edits", log_path.string(), log->edit_count());
    if (log->attribute("config") != config.to_yaml())
      throw ConfigError("cannot resume " + log_path.string() +
                        ": the composed config differs from the one the run started with (see its config.yaml)");
  }
  std::string overrides_file = (context.job_dir / "overrides.yaml").string();
  if (std::filesystem::exists(overrides_file)) {
    std::ifstream in(overrides_file);
    log->set_attribute("overrides", std::string(std::istreambuf_iterator<char>(in), {}));
  }
  BlasInfo blas = detect_blas();
  log->set_attribute("plugins", plugin_versions);
  log->set_attribute("libtorch", torch_version());
  log->set_attribute("blas", blas.vendor + " " + blas.library);
  log->set_attribute("threads", std::to_string(threads));
  if (!fitted.file.empty()) log->set_attribute("editor_fit", fitted.file.string());
  log->set_attribute("status", "running");
  log->flush();

  Runner runner(plugins, dataset.records, options, evaluator, *log);
  spdlog::info("{}: {} records, task {}, protocol {}, editor {}, model {}", dataset.file.string(),
               dataset.records.size(), task_name(options.task), protocol_name(options.protocol), editor_name,
               model_name);
  try {
    runner.run();
  } catch (const JobInterrupted&) {
    log->set_attribute("status", "interrupted");
    log->set_attribute("end_time", now_iso8601());
    throw;
  } catch (...) {
    log->set_attribute("status", "failed");
    log->set_attribute("end_time", now_iso8601());
    throw;
  }
  log->set_attribute("status", "done");
  log->set_attribute("end_time", now_iso8601());
  log->flush();

  BootstrapOptions intervals;
  intervals.resamples = config.get_or<int>("report.resamples", intervals.resamples);
  if (intervals.resamples < 1000)
    throw ConfigError("report.resamples is " + std::to_string(intervals.resamples) + " (from " +
                      config.origin("report.resamples") +
                      "); a 95% bootstrap interval needs at least 1000 resamples, 10000 by default");
  nlohmann::json metrics = summarize_metrics(*log, intervals);
  nlohmann::json summary;
  summary["status"] = "done";
  summary["task"] = task_name(options.task);
  summary["igen"] = options.igen;
  // The world the numbers come from: a synthetic world by its options and
  // file version, any other dataset by its folder and format.
  nlohmann::json world = {{"dir", data_dir.string()}, {"format", format}, {"split", dataset.split}};
  if (format == "mike" && data_config.has("synth")) {
    world["synth"] = nlohmann::json::parse(data::synth_options_json(data::synth_options_from_config(data_config.sub("synth"))));
    world["version"] = data::world_version();
  }
  summary["world"] = world;
  summary["protocol"] = protocol_name(options.protocol);
  summary["model"] = model_name;
  // Which weights the edits were made on: a checkpoint directory (the cached
  // pretrained model, or one the config names), or null for initial weights.
  // (A Hugging Face checkpoint is named by the model's `path`.)
  std::string checkpoint = model_config.get_or<std::string>("checkpoint", "");
  if (checkpoint.empty()) checkpoint = model_config.get_or<std::string>("path", "");
  summary["model_checkpoint"] = checkpoint.empty() ? nlohmann::json(nullptr) : nlohmann::json(checkpoint);
  const std::string device = model_config.get_or<std::string>("device", "cpu");
  summary["device"] = device;
  summary["memory"] = {{"peak_rss_bytes", peak_rss_bytes()}, {"peak_rss_scope", peak_is_this_jobs ? "job" : "process"}};
  if (const auto cuda = peak_cuda_allocated_bytes(device)) summary["memory"]["peak_cuda_allocated_bytes"] = *cuda;
  summary["editor"] = editor_name;
  if (fitted.fitted)
    summary["editor_fit"] = {{"file", fitted.file.empty() ? nlohmann::json(nullptr) : nlohmann::json(fitted.file.string())},
                             {"from_cache", fitted.from_cache},
                             {"train_edits", fitted.train_edits},
                             {"train_locality_left_out", fitted.dropped_locality},
                             {"seconds", fitted.seconds}};
  summary["records"] = dataset.records.size();
  summary["edits"] = log->edit_count();
  summary["wall_time_s"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const RunTiming& timing = runner.timing();
  summary["timing"] = {{"pre_eval_s", timing.pre_eval_s},
                       {"pre_eval_samples_per_s",
                        timing.pre_eval_s > 0 ? static_cast<double>(timing.pre_eval_samples) / timing.pre_eval_s : 0.0},
                       {"pre_eval_records_per_s",
                        timing.pre_eval_s > 0 ? static_cast<double>(dataset.records.size()) / timing.pre_eval_s : 0.0},
                       {"edit_s", timing.edit_s},
                       {"edit_prepare_s", timing.prepare_s},
                       {"post_eval_s", timing.post_eval_s},
                       {"restore_s", timing.restore_s},
                       {"log_s", log->seconds_writing()},
                       {"threads", threads}};
  summary["ci"] = describe_intervals(intervals);
  summary["metrics"] = metrics;
  nlohmann::json final_values = nlohmann::json::object();
  for (const auto& [name, by_checkpoint] : metrics.items()) {
    // The last checkpoint (largest number) is the final state.
    std::int64_t last = -1;
    for (const auto& [checkpoint, value] : by_checkpoint.items()) last = std::max<std::int64_t>(last, std::stoll(checkpoint));
    final_values[name] = by_checkpoint.at(std::to_string(last));
  }
  summary["final"] = final_values;
  write_json(context.job_dir / "summary.json", summary);
  std::printf("%s", format_summary_table(summary).c_str());
  std::printf("run log: %s\nsummary: %s\n", log_path.c_str(), (context.job_dir / "summary.json").c_str());
  std::fflush(stdout);
}

}  // namespace mike
