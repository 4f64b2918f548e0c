// `mike run`: compose a config (configs/ + overrides), then run it in-process,
// or expand a sweep (-m) into job directories and launch them locally or on
// Slurm. Also the worker entry point (`--job-dir`) that launchers start.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>
#include <set>

#include "commands.h"
#include "config/composer.h"
#include "config/config_impl.h"
#include "config/override.h"
#include "launch/interrupt.h"
#include "launch/job_runner.h"
#include "launch/local_launcher.h"
#include "launch/slurm_launcher.h"
#include "launch/sweep_dir.h"
#include "mike/error.h"
#include "plugins/plugin_registry.h"
#include "sweep/sweep_plan.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace mike::cli {

namespace {

// The most worker subprocesses a local launcher starts at once (-j, launcher.jobs).
constexpr int kMaxWorkers = 1024;

struct RunOptions {
  std::vector<std::string> overrides;
  bool multirun = false;
  bool dry_run = false;
  bool wait = false;
  std::string cfg;
  std::vector<std::string> config_dir_args;  // --config-dir, in order
  std::vector<fs::path> config_dirs;         // the search path they make (config_search_path)
  std::string config_name = "config";
  int jobs = 0;  // 0 = from launcher.jobs
  long long max_jobs = 0;  // 0 = from sweep.max_jobs
  std::string resume;
  std::string job_dir;
  std::optional<int> record_exit;
};

// Everything a launcher needs to re-invoke this executable as a worker.
struct Invocation {
  const CommonOptions& common;
  std::vector<std::string> worker_prefix() const {
    std::vector<std::string> argv = {fs::read_symlink("/proc/self/exe").string(), "run"};
    for (int i = 0; i < common.verbosity; ++i) argv.push_back("-v");
    for (int i = 0; i > common.verbosity; --i) argv.push_back("-q");
    for (const std::string& path : common.plugin_paths) {
      argv.push_back("--plugin-path");
      argv.push_back(fs::absolute(path).string());
    }
    return argv;
  }
};

class Composition {
 public:
  Composition(const RunOptions& options, const CommonOptions& common) : options_(options) {
    registry_.discover(PluginRegistry::default_search_path(common.plugin_paths));
    for (const std::string& warning : registry_.warnings()) spdlog::debug("{}", warning);
  }

  ComposedConfig compose(const std::vector<std::string>& overrides) const {
    return compose_config(compose_request(options_.config_dirs, options_.config_name, overrides, registry_));
  }

  GroupOptionsFn group_options_fn() const {
    return [dirs = options_.config_dirs](const std::string& group) { return group_options(dirs, group); };
  }

 private:
  const RunOptions& options_;
  PluginRegistry registry_;
};

std::string out_dir_of(const Config& config, const char* default_root) {
  std::string configured = config.get_or<std::string>("out_dir", "");
  return configured.empty() ? timestamped_dir(default_root).string() : configured;
}

// A new run or sweep never writes into a folder that holds results: it
// would replace config.yaml and status.yaml beside a run.h5 they no longer
// describe. Checked before anything is written.
void refuse_existing_results(const fs::path& dir) {
  const std::string results = existing_results(dir);
  if (results.empty()) return;
  throw UsageError("out_dir '" + dir.string() + "' already holds results (" + results + "); `mike run` never writes "
                   "over them. fix: continue that run or sweep with `mike run --resume " + dir.string() +
                   "`, or choose another out_dir");
}

void print_lines(const std::string& text) { std::fwrite(text.data(), 1, text.size(), stdout); }

// --job-dir: run one prepared job here (a local worker or a Slurm array task).
int run_job_dir(const RunOptions& options, const CommonOptions& common) {
  fs::path dir = options.job_dir;
  if (options.record_exit) {
    // A worker that died without writing its outcome (signal, abort) gets it recorded here.
    JobStatus status = read_job_status(dir);
    if (status.state == JobState::done || status.state == JobState::failed) return 0;
    int code = *options.record_exit;
    status.state = JobState::failed;
    status.exit_code = code;
    status.reason = code > 128 ? "worker " + describe_signal(code - 128) : "worker exited with code " + std::to_string(code);
    status.log_tail = tail_lines(dir / kJobLogFile, 20);
    write_job_status(dir, status);
    return 0;
  }
  Config config = load_job_config(dir);
  int index = 0;
  try {
    index = std::stoi(dir.filename().string());
  } catch (const std::exception&) {
    index = 0;
  }
  JobStatus status = run_job_in_process(config, JobContext{dir, index, common.plugin_paths}, run_experiment);
  if (status.state == JobState::done) return 0;
  if (status.state == JobState::interrupted) return 130;
  std::fprintf(stderr, "mike: job %d failed: %s\n", index, status.reason.c_str());
  return status.exit_code.value_or(1);
}

// Runs (or continues) the single run in `dir` in this process and reports it.
int run_single_dir(const fs::path& dir, const Config& config, const CommonOptions& common) {
  LocalLauncherOptions launch;
  launch.workers = 1;
  launch.plugin_paths = common.plugin_paths;
  launch_local({LaunchJob{0, dir, config}}, launch);
  JobStatus status = read_job_status(dir);
  std::fprintf(stderr, "run %s: %s\n", dir.c_str(), to_string(status.state));
  if (status.state == JobState::interrupted) return 130;
  if (status.state != JobState::done)
    throw Error("run " + dir.string() + " failed: " + status.reason, status.exit_code.value_or(1));
  return 0;
}

int run_single(const RunOptions& options, const CommonOptions& common, const Composition& composition) {
  ComposedConfig composed = composition.compose(options.overrides);
  if (options.cfg == "job") {
    print_lines(composed.config.to_yaml() + "\n");
    return 0;
  }
  if (options.dry_run) {
    std::string line = "0:";
    for (const std::string& o : options.overrides) line += " " + o;
    print_lines(line + "\n");
    return 0;
  }
  if (composed.config.get_or<std::string>("launcher.name", "local") != "local")
    throw ConfigError("launcher=" + composed.config.get<std::string>("launcher.name") +
                      " launches sweeps; add -m (a sweep of one job is fine) or use launcher=local");
  fs::path dir = out_dir_of(composed.config, "outputs");
  refuse_existing_results(dir);
  prepare_job_dir(dir, composed.config, options.overrides);
  return run_single_dir(dir, composed.config, common);
}

// Dry-run validation without composing every job: job 0, plus each value of
// axes that pick group options (a typo there fails like it would at launch).
void validate_sweep(const SweepPlan& plan, const Composition& composition, const RunOptions& options) {
  if (plan.job_count() == 0) return;
  std::vector<std::string> first = plan.job_overrides(0);
  composition.compose(first);
  for (std::size_t a = 0; a < plan.axes().size(); ++a) {
    const SweepAxis& axis = plan.axes()[a];
    bool picks_group = false;
    for (const std::string& key : axis.keys) picks_group = picks_group || is_config_group(options.config_dirs, key);
    if (!picks_group || !axis.is_sweep()) continue;
    for (std::size_t v = 1; v < axis.values.size(); ++v) {
      std::vector<std::string> overrides;
      for (std::size_t b = 0; b < plan.axes().size(); ++b) {
        const auto& chosen = b == a ? axis.values[v] : plan.axes()[b].values[0];
        overrides.insert(overrides.end(), chosen.begin(), chosen.end());
      }
      composition.compose(overrides);
    }
  }
}

// Workers of the local launcher: -j, else launcher.jobs (checked before any job dir is written).
int local_workers(const Config& launcher, const RunOptions& options) {
  if (options.jobs > 0) return options.jobs;
  return static_cast<int>(
      get_int_in_range(launcher, "jobs", 1, 1, kMaxWorkers, "worker subprocesses at once; -j N sets it too"));
}

int launch_and_summarize(const fs::path& sweep_dir, const SweepManifest& manifest, const std::vector<bool>& skipped,
                         std::vector<LaunchJob> jobs, const RunOptions& options, const CommonOptions& common) {
  // Launcher settings are the sweep's: those of its first job.
  Config first = !jobs.empty() && jobs.front().config ? *jobs.front().config : load_job_config(sweep_job_dir(sweep_dir, 0));
  Config launcher = first.has("launcher") ? first.sub("launcher") : Config();
  std::string name = launcher.get_or<std::string>("name", "local");
  Invocation invocation{common};
  if (name == "slurm") {
    SlurmOptions slurm = slurm_options_from(launcher);
    slurm.job_name = "mike-" + sweep_dir.filename().string();
    slurm.worker_prefix = invocation.worker_prefix();
    std::vector<std::size_t> indices;
    for (const LaunchJob& job : jobs) indices.push_back(job.index);
    if (indices.empty()) {
      std::fprintf(stderr, "sweep %s: every job is already done\n", sweep_dir.c_str());
      return 0;
    }
    fs::path script = write_sbatch_script(sweep_dir, indices, slurm);
    std::string job_id = submit_sbatch(sweep_dir, script, slurm);
    std::fprintf(stderr, "submitted Slurm job %s (%zu tasks, script %s)\n", job_id.c_str(), indices.size(),
                 script.c_str());
    if (!options.wait) {
      std::fprintf(stderr, "follow it with: mike sweep status %s\n", sweep_dir.c_str());
      return 0;
    }
    InterruptScope interrupts;
    wait_for_slurm_job(job_id, slurm);
  } else if (name == "local") {
    LocalLauncherOptions local;
    local.plugin_paths = common.plugin_paths;
    local.workers = local_workers(launcher, options);
    std::vector<std::string> prefix = invocation.worker_prefix();
    local.worker_command = [prefix](const LaunchJob& job) {
      std::vector<std::string> argv = prefix;
      argv.push_back("--job-dir");
      argv.push_back(fs::absolute(job.dir).string());
      return argv;
    };
    launch_local(jobs, local);
  } else {
    throw ConfigError("unknown launcher '" + name + "' (from " + launcher.origin("name") +
                      "); use launcher=local or launcher=slurm");
  }
  SweepCounts counts;
  std::string summary = format_sweep_summary(sweep_dir, manifest, skipped, counts);
  print_lines(summary);
  return sweep_exit_code(counts);
}

// A run is finished when it wrote summary.json (after the last edit reached
// run.h5); status.yaml alone may be stale or edited by hand.
bool run_finished(const fs::path& dir) {
  if (read_job_status(dir).state != JobState::done) return false;
  if (fs::exists(dir / kRunSummaryFile)) return true;
  std::fprintf(stderr, "run %s: status.yaml says done but there is no %s; continuing it from run.h5\n", dir.c_str(),
               kRunSummaryFile);
  return false;
}

int run_resume(const RunOptions& options, const CommonOptions& common) {
  fs::path sweep_dir = options.resume;
  // A single run's directory (outputs/<date>/<time>): continue its run.h5.
  if (!fs::exists(sweep_dir / kSweepManifestFile) && fs::exists(sweep_dir / kJobConfigFile)) {
    if (!options.overrides.empty())
      throw UsageError("--resume " + sweep_dir.string() + " continues that run with its own config.yaml; drop the "
                       "overrides from the command line");
    if (run_finished(sweep_dir)) {
      std::fprintf(stderr, "run %s is already done\n", sweep_dir.c_str());
      return 0;
    }
    return run_single_dir(sweep_dir, load_job_config(sweep_dir), common);
  }
  SweepManifest manifest = read_sweep_manifest(sweep_dir);
  if (!options.overrides.empty() && options.overrides != manifest.arguments) {
    std::string stored;
    for (const std::string& a : manifest.arguments) stored += " " + a;
    throw UsageError("--resume " + sweep_dir.string() + " continues that sweep with its own overrides (" +
                     (stored.empty() ? std::string(" none") : stored) +
                     " ); drop the overrides from the command line, or start a new sweep without --resume");
  }
  std::vector<bool> skipped;
  std::vector<LaunchJob> jobs;
  for (std::size_t index : jobs_to_resume(sweep_dir, manifest, skipped, run_finished))
    jobs.push_back(LaunchJob{index, sweep_job_dir(sweep_dir, index), std::nullopt});
  std::fprintf(stderr, "resuming sweep %s: %zu of %zu jobs to run\n", sweep_dir.c_str(), jobs.size(),
               manifest.jobs.size());
  return launch_and_summarize(sweep_dir, manifest, skipped, std::move(jobs), options, common);
}

int run_multirun(const RunOptions& options, const CommonOptions& common, const Composition& composition) {
  // The sweep declared in the config (sweep.params / sweep.zip) is read from
  // the composition with the fixed (non-sweep) overrides.
  std::vector<std::string> fixed;
  for (const std::string& argument : options.overrides) {
    Override item = argument.rfind("zip(", 0) == 0 ? Override{} : parse_override(argument);
    if (argument.rfind("zip(", 0) != 0 && (item.op == OverrideOp::remove || !is_sweep_value(item.value)))
      fixed.push_back(argument);
  }
  // Group options swept on the command line take their first value here: a
  // fixed override may set a key only those options have (editor=rome,memit
  // editor.key_position=...), which the default option would reject.
  // Only each axis's first value is expanded here: the limit on jobs is in that config.
  ComposedConfig base = composition.compose(first_job_overrides(options.overrides, composition.group_options_fn()));
  YAML::Node yaml_sweep = find_config_node(ConfigAccess::impl(base.config).root, {"sweep"});
  const std::size_t max_jobs =
      options.max_jobs > 0 ? static_cast<std::size_t>(options.max_jobs)
                           : static_cast<std::size_t>(get_int_in_range(
                                 base.config, "sweep.max_jobs", static_cast<std::int64_t>(kDefaultMaxJobs), 1,
                                 static_cast<std::int64_t>(kMaxJobsCeiling), "the most jobs one sweep may have"));
  SweepPlan plan =
      plan_sweep(options.overrides, yaml_sweep, base.config.origin("sweep"), composition.group_options_fn(), max_jobs);
  if (base.config.has("launcher")) {
    const Config launcher = base.config.sub("launcher");
    local_workers(launcher, options);
    // Slurm's numbers are checked before any job folder is written.
    if (launcher.get_or<std::string>("name", "local") == "slurm") slurm_options_from(launcher);
  }
  if (options.cfg == "job") {
    print_lines(composition.compose(plan.job_count() ? plan.job_overrides(0) : fixed).config.to_yaml() + "\n");
    return 0;
  }
  if (options.dry_run) {
    validate_sweep(plan, composition, options);
    std::string out;
    out.reserve(plan.job_count() * 48);
    for (std::size_t i = 0; i < plan.job_count(); ++i) {
      out += std::to_string(i);
      out += ": ";
      plan.append_job_line(i, out);
      out += '\n';
    }
    print_lines(out);
    std::fprintf(stderr, "%zu jobs (dry run: nothing was run)\n", plan.job_count());
    return 0;
  }
  if (plan.job_count() == 0) throw ConfigError("the sweep has no jobs; give every swept key at least one value");
  // Compose every job first: a bad value fails the sweep before anything runs.
  std::vector<ComposedConfig> composed;
  composed.reserve(plan.job_count());
  for (std::size_t i = 0; i < plan.job_count(); ++i) composed.push_back(composition.compose(plan.job_overrides(i)));
  fs::path sweep_dir = out_dir_of(composed.front().config, "multirun");
  refuse_existing_results(sweep_dir);
  SweepManifest manifest;
  for (const fs::path& dir : options.config_dirs)
    manifest.config_dir += (manifest.config_dir.empty() ? "" : ":") + fs::absolute(dir).string();
  manifest.config_name = options.config_name;
  manifest.arguments = options.overrides;
  manifest.launcher = composed.front().config.get_or<std::string>("launcher.name", "local");
  std::vector<LaunchJob> jobs;
  for (std::size_t i = 0; i < plan.job_count(); ++i) {
    manifest.jobs.push_back(plan.job_overrides(i));
    fs::path dir = sweep_job_dir(sweep_dir, i);
    prepare_job_dir(dir, composed[i].config, manifest.jobs.back());
    jobs.push_back(LaunchJob{i, dir, composed[i].config});
  }
  write_sweep_manifest(sweep_dir, manifest);
  std::fprintf(stderr, "sweep %s: %zu jobs\n", sweep_dir.c_str(), plan.job_count());
  return launch_and_summarize(sweep_dir, manifest, std::vector<bool>(plan.job_count(), false), std::move(jobs),
                              options, common);
}

}  // namespace

int cmd_run(const std::vector<std::string>& args, CommonOptions& common) {
  po::options_description desc(
      "mike run [options] [overrides...]\n"
      "  overrides: group=option, key=value, +key=value (add), ++key=value (set or add), ~key (delete);\n"
      "  with -m: key=a,b  key=range(start,stop[,step])  key=choice(a,b)  group=glob(pattern)\n"
      "           zip(k1=a,b; k2=x,y)  (see README \"Configs, overrides and sweeps\")\noptions");
  RunOptions options;
  int record_exit = -1;
  desc.add_options()("help,h", "show help")                                                                      //
      ("overrides", po::value<std::vector<std::string>>(&options.overrides), "overrides")                     //
      ("multirun,m", po::bool_switch(&options.multirun), "run a sweep: every combination of the listed values")  //
      ("dry-run", po::bool_switch(&options.dry_run), "print the jobs (index: overrides) and exit")              //
      ("cfg", po::value<std::string>(&options.cfg), "`--cfg job`: print the composed config and exit")          //
      ("config-dir", po::value<std::vector<std::string>>(&options.config_dir_args)->composing(), kConfigDirHelp)  //
      ("config-name", po::value<std::string>(&options.config_name)->default_value("config"),
       "primary config: a name in --config-dir, or a path to a .yaml file")                                     //
      ("jobs,j", po::value<int>(&options.jobs), "local launcher: run N jobs at once in worker subprocesses")     //
      ("max-jobs", po::value<long long>(&options.max_jobs),
       "with -m: allow a sweep of up to N jobs (default: sweep.max_jobs, else 10000)")                          //
      ("resume", po::value<std::string>(&options.resume),
       "continue a run dir, or re-run the jobs of a sweep dir that are not done") //
      ("wait", po::bool_switch(&options.wait), "launcher=slurm: block until every task ended")                  //
      ("job-dir", po::value<std::string>(&options.job_dir), "run one prepared job directory (launchers use this)")  //
      ("record-exit", po::value<int>(&record_exit), "with --job-dir: record a worker's exit code (Slurm script)");
  po::positional_options_description positional;
  positional.add("overrides", -1);
  auto vm = parse_command("run", args, desc, positional, common);
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  if (record_exit >= 0) options.record_exit = record_exit;
  if (!options.cfg.empty() && options.cfg != "job")
    throw UsageError("run: --cfg takes 'job' (print the composed config), not '" + options.cfg + "'");
  if (vm.count("jobs") && (options.jobs < 1 || options.jobs > kMaxWorkers))
    throw UsageError("run: -j " + std::to_string(options.jobs) +
                     " is out of range; -j takes a number of workers from 1 to " + std::to_string(kMaxWorkers));
  if (vm.count("max-jobs") && (options.max_jobs < 1 || options.max_jobs > static_cast<long long>(kMaxJobsCeiling)))
    throw UsageError("run: --max-jobs " + std::to_string(options.max_jobs) + " is out of range; it takes 1 to " +
                     std::to_string(kMaxJobsCeiling) + " jobs");
  if (!options.job_dir.empty()) return run_job_dir(options, common);
  if (options.record_exit) throw UsageError("run: --record-exit needs --job-dir");
  if (!options.resume.empty()) return run_resume(options, common);
  options.config_dirs = config_search_path(options.config_dir_args);
  Composition composition(options, common);
  if (options.multirun) return run_multirun(options, common, composition);
  return run_single(options, common, composition);
}

}  // namespace mike::cli
