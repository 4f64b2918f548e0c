#include "launch/sweep_dir.h"

#include <yaml-cpp/yaml.h>

#include <ctime>
#include <fstream>

#include "config/config_impl.h"
#include "launch/job_runner.h"
#include "mike/error.h"
#include "system/text_file.h"

namespace fs = std::filesystem;

namespace mike {
namespace {

std::vector<std::string> read_string_list(const YAML::Node& node, const std::string& what, const fs::path& file) {
  std::vector<std::string> out;
  if (!node.IsDefined() || node.IsNull()) return out;
  if (!node.IsSequence()) throw ConfigError(file.string() + ": '" + what + "' must be a list of strings");
  for (const auto& item : node) out.push_back(item.as<std::string>());
  return out;
}

std::string first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  return line.size() > 100 ? line.substr(0, 97) + "..." : line;
}

}  // namespace

void write_sweep_manifest(const fs::path& sweep_dir, const SweepManifest& manifest) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "config_dir" << YAML::Value << manifest.config_dir;
  out << YAML::Key << "config_name" << YAML::Value << manifest.config_name;
  out << YAML::Key << "launcher" << YAML::Value << manifest.launcher;
  out << YAML::Key << "arguments" << YAML::Value << YAML::Flow << manifest.arguments;
  out << YAML::Key << "jobs" << YAML::Value << YAML::BeginSeq;
  for (const auto& job : manifest.jobs) out << YAML::Flow << job;
  out << YAML::EndSeq << YAML::EndMap;
  fs::create_directories(sweep_dir);
  // Whole or not at all: a sweep killed while writing it must not leave a
  // manifest that lists fewer jobs than the sweep has.
  write_text_file(sweep_dir / kSweepManifestFile,
                  "# The sweep: how it was composed and each job's overrides (job n runs in <this dir>/n).\n" +
                      std::string(out.c_str()) + "\n");
}

namespace {

// What a folder without a sweep manifest is instead, and what it lacks.
[[noreturn]] void throw_not_a_sweep(const fs::path& dir) {
  if (!fs::exists(dir))
    throw ConfigError("'" + dir.string() + "' does not exist, so there is nothing to resume there (a `mike run` "
                      "stopped before it wrote anything leaves no folder); fix: check the path, or start the run again "
                      "without --resume");
  if (!fs::is_directory(dir))
    throw ConfigError("'" + dir.string() + "' is a file, not a run or sweep directory; pass the folder that holds it");
  std::string run_files;
  for (const char* name : {kStatusFileName, kJobOverridesFile, kJobLogFile, "run.h5", kRunSummaryFile})
    if (fs::exists(dir / name)) run_files += std::string(run_files.empty() ? "" : ", ") + name;
  if (fs::exists(dir / kJobConfigFile))
    throw ConfigError("'" + dir.string() + "' is a single run's directory (it has " + kJobConfigFile +
                      "), not a sweep: it has no " + kSweepManifestFile + "; use `mike run --resume " + dir.string() +
                      "` for it, or pass a directory made by `mike run -m` (multirun/<date>/<time>)");
  if (!run_files.empty())
    throw ConfigError("'" + dir.string() + "' looks like a run directory (it has " + run_files + ") but its " +
                      kJobConfigFile + " is missing, and it has no " + kSweepManifestFile +
                      " either; fix: restore " + kJobConfigFile + " (the composed config the run started with; run.h5 "
                      "holds a copy in its `config` attribute: h5dump -a config run.h5), or start a new run");
  // Nothing but temporaries (a file being written when the run was killed):
  // the run stopped before it wrote its config, so nothing ran.
  bool only_temporaries = true;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end && only_temporaries; it.increment(ec))
    only_temporaries = it->path().filename().string().find(".tmp.") != std::string::npos;
  if (only_temporaries)
    throw ConfigError("'" + dir.string() + "' holds no run yet (a `mike run` stopped before it wrote its " +
                      kJobConfigFile + " leaves such a folder), so there is nothing to resume; fix: start the run "
                      "again with the command that made it (the same out_dir is fine), or check the path");
  // Job folders (0/, 1/, ...) with their config but no manifest: a sweep
  // stopped while its jobs were being prepared, before any of them ran (the
  // manifest is written after the last job folder).
  if (fs::exists(dir / "0" / kJobConfigFile) && existing_results(dir).empty())
    throw ConfigError("'" + dir.string() + "' holds a sweep that was stopped while its jobs were being prepared (job "
                      "folders, no " + kSweepManifestFile + "): none of its jobs ran, so there is nothing to resume; "
                      "fix: start the sweep again with the command that made it (the same out_dir is fine)");
  throw ConfigError("'" + dir.string() + "' is neither a run nor a sweep directory: it has no " + kJobConfigFile +
                    " and no " + kSweepManifestFile + "; pass a directory made by `mike run` (outputs/<date>/<time>) "
                    "or `mike run -m` (multirun/<date>/<time>)");
}

}  // namespace

SweepManifest read_sweep_manifest(const fs::path& sweep_dir) {
  fs::path file = sweep_dir / kSweepManifestFile;
  if (!fs::exists(file)) throw_not_a_sweep(sweep_dir);
  YAML::Node node = load_yaml_file(file.string());
  SweepManifest manifest;
  manifest.config_dir = node["config_dir"] ? node["config_dir"].as<std::string>() : "configs";
  manifest.config_name = node["config_name"] ? node["config_name"].as<std::string>() : "config";
  manifest.launcher = node["launcher"] ? node["launcher"].as<std::string>() : "local";
  manifest.arguments = read_string_list(node["arguments"], "arguments", file);
  if (node["jobs"] && node["jobs"].IsSequence()) {
    for (const auto& job : node["jobs"]) manifest.jobs.push_back(read_string_list(job, "jobs", file));
  }
  return manifest;
}

std::string existing_results(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return "";
  std::string found;
  auto note = [&](const fs::path& path) {
    if (fs::exists(path, ec)) found += (found.empty() ? "" : ", ") + path.string();
  };
  note(dir / "run.h5");
  note(dir / kRunSummaryFile);
  note(dir / kSweepManifestFile);
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) note(it->path() / "run.h5");
  }
  return found;
}

fs::path sweep_job_dir(const fs::path& sweep_dir, std::size_t index) { return sweep_dir / std::to_string(index); }

fs::path timestamped_dir(const fs::path& root) {
  std::time_t now = std::time(nullptr);
  std::tm parts{};
  localtime_r(&now, &parts);
  char day[16], time_of_day[16];
  std::strftime(day, sizeof day, "%Y-%m-%d", &parts);
  std::strftime(time_of_day, sizeof time_of_day, "%H-%M-%S", &parts);
  fs::path base = root / day / time_of_day;
  fs::path candidate = base;
  for (int n = 2; fs::exists(candidate); ++n) candidate = base.string() + "_" + std::to_string(n);
  return candidate;
}

std::vector<std::size_t> jobs_to_resume(const fs::path& sweep_dir, const SweepManifest& manifest,
                                        std::vector<bool>& skipped, const std::function<bool(const fs::path&)>& finished) {
  skipped.assign(manifest.jobs.size(), false);
  std::vector<std::size_t> indices;
  for (std::size_t i = 0; i < manifest.jobs.size(); ++i) {
    fs::path dir = sweep_job_dir(sweep_dir, i);
    if (finished ? finished(dir) : read_job_status(dir).state == JobState::done) {
      skipped[i] = true;
      continue;
    }
    write_job_status(dir, JobStatus{});
    indices.push_back(i);
  }
  return indices;
}

std::string format_sweep_summary(const fs::path& sweep_dir, const SweepManifest& manifest,
                                 const std::vector<bool>& skipped, SweepCounts& counts) {
  counts = SweepCounts{};
  std::string table = "  job  state        overrides / reason\n";
  for (std::size_t i = 0; i < manifest.jobs.size(); ++i) {
    JobStatus status = read_job_status(sweep_job_dir(sweep_dir, i));
    bool was_skipped = i < skipped.size() && skipped[i];
    switch (status.state) {
      case JobState::done: ++(was_skipped ? counts.skipped : counts.done); break;
      case JobState::failed: ++counts.failed; break;
      case JobState::interrupted: ++counts.interrupted; break;
      case JobState::pending: ++counts.pending; break;
      case JobState::running: ++counts.running; break;
    }
    std::string overrides;
    for (const std::string& o : manifest.jobs[i]) overrides += (overrides.empty() ? "" : " ") + o;
    std::string state = was_skipped ? "skipped" : to_string(status.state);
    char prefix[64];
    std::snprintf(prefix, sizeof prefix, "  %3zu  %-11s  ", i, state.c_str());
    table += prefix + overrides + "\n";
    if (!status.reason.empty() && status.state != JobState::done)
      table += std::string(20, ' ') + "-> " + first_line(status.reason) + "\n";
  }
  std::string totals = "sweep " + sweep_dir.string() + ": " + std::to_string(manifest.jobs.size()) + " jobs, " +
                       std::to_string(counts.done) + " done, " + std::to_string(counts.failed) + " failed, " +
                       std::to_string(counts.interrupted) + " interrupted, " + std::to_string(counts.skipped) +
                       " skipped (done before)";
  if (counts.pending) totals += ", " + std::to_string(counts.pending) + " pending";
  if (counts.running) totals += ", " + std::to_string(counts.running) + " running";
  if (counts.failed || counts.interrupted || counts.pending)
    totals += "\nre-run what is not done: mike run -m --resume " + sweep_dir.string();
  return table + totals + "\n";
}

int sweep_exit_code(const SweepCounts& counts) {
  if (counts.interrupted) return 130;
  if (counts.failed || counts.pending || counts.running) return 1;
  return 0;
}

}  // namespace mike
