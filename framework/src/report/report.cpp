#include "report/report.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>

#include "mike/error.h"
#include "report/comparison_table.h"
#include "report/job_dirs.h"
#include "report/record_totals.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mike {

namespace {

struct Column {
  std::string title;
  std::vector<std::string> metrics;  // first present wins (EM for vna/csr, mention for elc)
  bool locality = false;             // shown in the second (locality) table
};

const std::vector<Column>& columns() {
  static const std::vector<Column> table = {
      {"Rel acc", {"reliability.token_acc"}},
      {"Rel TF-EM", {"reliability.tf_exact"}},
      {"Rel EM", {"reliability.exact_match", "reliability.mention"}},
      {"T-Gen acc", {"t_generality.token_acc"}},
      {"T-Gen EM", {"t_generality.exact_match", "t_generality.mention"}},
      {"I-Gen acc", {"i_generality.token_acc"}},
      {"I-Gen EM", {"i_generality.exact_match", "i_generality.mention"}},
      {"T-Loc", {"t_locality.top1_agreement"}, true},
      {"M-Loc", {"m_locality.top1_agreement"}, true},
      {"M-Loc top-k", {"m_locality.topk_agreement"}, true},
      // EasyEdit's definitions (docs/metrics.md), to compare with published tables.
      {"T-Loc EasyEdit", {"t_locality.easyedit"}, true},
      {"M-Loc EasyEdit top-10", {"m_locality.easyedit_top10"}, true},
  };
  return table;
}

struct Job {
  fs::path dir;
  json summary;
  std::vector<std::pair<std::string, std::string>> keys;  // swept key -> value
};

// Throws DataError naming `file` and the key path unless `value` has type `type`.
void expect_type(const fs::path& file, const json& value, json::value_t type, const std::string& key,
                 const char* expected) {
  const bool ok = value.type() == type || (type == json::value_t::number_float && value.is_number());
  if (ok) return;
  throw DataError("report: " + file.string() + ": key '" + key + "' must be " + expected + " but is " +
                  std::string(value.is_null() ? "null or absent" : value.type_name()) +
                  "; fix: restore the file from `mike run`, or move summary.json aside and run "
                  "`mike run --resume " + file.parent_path().string() + "` to write it again from run.h5");
}

// One metric's values as summarize_metrics writes them: pre/post means and
// the post CI.
void check_metric_values(const fs::path& file, const json& values, const std::string& key) {
  expect_type(file, values, json::value_t::object, key, "an object");
  const std::vector<std::pair<const char*, std::vector<const char*>>> needed = {{"pre", {"mean"}},
                                                                              {"post", {"mean", "ci_low", "ci_high"}}};
  for (const auto& [side, numbers] : needed) {
    const std::string side_key = key + "." + side;
    expect_type(file, values.contains(side) ? values.at(side) : json(), json::value_t::object, side_key, "an object");
    for (const char* number : numbers)
      expect_type(file, values.at(side).contains(number) ? values.at(side).at(number) : json(),
                  json::value_t::number_float, side_key + "." + number, "a number");
  }
}

// The parts of a summary.json the report reads, checked before any is read,
// so that a hand-edited or truncated file is named instead of crashing.
void check_summary_shape(const fs::path& file, const json& summary) {
  expect_type(file, summary, json::value_t::object, "(top level)", "an object");
  for (const char* key : {"status", "model", "igen", "editor", "task", "protocol"})
    if (summary.contains(key)) expect_type(file, summary.at(key), json::value_t::string, key, "a string");
  if (summary.contains("world") && summary.at("world").is_object()) {
    const json& world = summary.at("world");
    if (world.contains("dir")) expect_type(file, world.at("dir"), json::value_t::string, "world.dir", "a string");
    if (world.contains("version"))
      expect_type(file, world.at("version"), json::value_t::number_float, "world.version", "a number");
    if (world.contains("synth") && world.at("synth").is_object() && world.at("synth").contains("edit_targets"))
      expect_type(file, world.at("synth").at("edit_targets"), json::value_t::string, "world.synth.edit_targets",
                  "a string");
  }
  if (summary.contains("final")) {
    expect_type(file, summary.at("final"), json::value_t::object, "final", "an object");
    for (const auto& [name, values] : summary.at("final").items()) check_metric_values(file, values, "final." + name);
  }
  if (summary.contains("metrics")) {
    expect_type(file, summary.at("metrics"), json::value_t::object, "metrics", "an object");
    for (const auto& [name, by_checkpoint] : summary.at("metrics").items()) {
      expect_type(file, by_checkpoint, json::value_t::object, "metrics." + name, "an object of checkpoints");
      for (const auto& [checkpoint, values] : by_checkpoint.items()) {
        if (checkpoint.empty() || checkpoint.find_first_not_of("0123456789") != std::string::npos ||
            checkpoint.size() > 18)
          throw DataError("report: " + file.string() + ": key 'metrics." + name + "." + checkpoint +
                          "' must be a checkpoint number (edits applied or step); fix: restore the file from "
                          "`mike run`, or move summary.json aside and run `mike run --resume " +
                          file.parent_path().string() + "` to write it again from run.h5");
        check_metric_values(file, values, "metrics." + name + "." + checkpoint);
      }
    }
  }
}

const json* metric_of(const json& values, const Column& column) {
  for (const std::string& name : column.metrics)
    if (values.contains(name)) return &values.at(name);
  return nullptr;
}

// "pre → post ±h": the unedited model's value next to the edited one's,
// h = half the width of the post value's 95% CI.
std::string cell(const json* metric) {
  if (!metric) return "–";
  const json& post = metric->at("post");
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.3f → %.3f ±%.3f", metric->at("pre").at("mean").get<double>(),
                post.at("mean").get<double>(),
                (post.at("ci_high").get<double>() - post.at("ci_low").get<double>()) / 2.0);
  return buf;
}

// Which pairs of jobs a report compares: each job against `baseline` when
// one is chosen; otherwise every pair for up to four jobs, else each job
// against the first (the table would grow quadratically).
std::vector<std::pair<std::size_t, std::size_t>> compared_pairs(std::size_t jobs,
                                                                std::optional<std::size_t> baseline) {
  std::vector<std::pair<std::size_t, std::size_t>> pairs;
  if (baseline) {
    for (std::size_t b = 0; b < jobs; ++b)
      if (b != *baseline) pairs.emplace_back(*baseline, b);
    return pairs;
  }
  for (std::size_t a = 0; a < jobs; ++a)
    for (std::size_t b = a + 1; b < jobs; ++b)
      if (jobs <= 4 || a == 0) pairs.emplace_back(a, b);
  return pairs;
}

// The job `--baseline` names: by its row label (the swept values, as the
// table shows them) or its directory below the sweep ("3").
std::size_t baseline_job(const std::string& wanted, const std::vector<std::string>& labels,
                         const std::vector<std::string>& relative_dirs) {
  std::vector<std::size_t> found;
  for (std::size_t j = 0; j < labels.size(); ++j)
    if (labels[j] == wanted || relative_dirs[j] == wanted) found.push_back(j);
  if (found.size() == 1) return found.front();
  std::string known;
  for (std::size_t j = 0; j < labels.size(); ++j)
    known += (known.empty() ? "" : ", ") + ("'" + labels[j] + "' (" + relative_dirs[j] + ")");
  throw UsageError("report: --baseline '" + wanted + "' " +
                   (found.empty() ? "names no job" : "names " + std::to_string(found.size()) + " jobs") +
                   "; fix: give one job's row label or directory: " + known);
}

// The paired comparisons of a multi-job report, as Markdown sections.
std::string comparisons_markdown(const std::vector<fs::path>& dirs, const std::vector<std::string>& labels,
                                 std::optional<std::size_t> baseline) {
  std::vector<std::pair<std::string, std::vector<std::string>>> metrics;
  for (const Column& column : columns()) metrics.emplace_back(column.title, column.metrics);
  std::vector<std::map<std::string, RecordTotals>> totals(dirs.size());
  std::vector<std::string> missing(dirs.size());
  for (std::size_t j = 0; j < dirs.size(); ++j) {
    if (fs::exists(dirs[j] / "run.h5"))
      totals[j] = final_record_totals(dirs[j] / "run.h5");
    else
      missing[j] = dirs[j].string() + " has no run.h5";
  }
  const BootstrapOptions options;
  std::string md = std::string("## Paired comparisons\n\nSame records only; difference = first − second of the "
                               "post-edit means; ") + kPairedCiMethod + " (" + std::to_string(options.resamples) +
                   " resamples, 95%); p: " + kPairedTestMethod + " (" + std::to_string(options.resamples) +
                   " sign flips); Holm across the metrics of each table. * = the CI excludes 0.\n\n";
  for (const auto& [a, b] : compared_pairs(dirs.size(), baseline)) {
    if (!missing[a].empty() || !missing[b].empty()) {
      md += "### " + labels[a] + " vs " + labels[b] + "\n\nNot compared: " +
            (missing[a].empty() ? missing[b] : missing[a]) + " (per-record values come from run.h5).\n\n";
      continue;
    }
    md += format_comparison(compare_systems(labels[a], totals[a], labels[b], totals[b], metrics, options), options);
  }
  return md;
}

// The report's columns of these titles, in this order.
std::vector<const Column*> columns_titled(const std::vector<std::string>& titles) {
  std::vector<const Column*> picked;
  for (const std::string& title : titles)
    for (const Column& column : columns())
      if (column.title == title) picked.push_back(&column);
  return picked;
}

// The checkpoints (sequential: edits applied; multi-step: step) that
// summary.json's `metrics` holds for any of `picked`, in increasing order.
std::vector<std::string> checkpoints_of(const json& metrics, const std::vector<const Column*>& picked) {
  std::vector<std::string> steps;
  for (const Column* column : picked)
    for (const std::string& name : column->metrics)
      if (metrics.contains(name))
        for (const auto& [step, values] : metrics.at(name).items())
          if (std::find(steps.begin(), steps.end(), step) == steps.end()) steps.push_back(step);
  std::sort(steps.begin(), steps.end(), [](const std::string& a, const std::string& b) { return std::stoll(a) < std::stoll(b); });
  return steps;
}

// One checkpoint's values by metric name, the shape metric_of() reads.
json metrics_at(const json& metrics, const std::string& step) {
  json at_step = json::object();
  for (const auto& [name, by_step] : metrics.items())
    if (by_step.contains(step)) at_step[name] = by_step.at(step);
  return at_step;
}

// A multi-step job (MIKE's 1..k images per entity): its scores per step and
// the paired difference of the last step against the first on the same
// records, so "more images help generality" is a claim with a CI. The I-Gen
// images are the same at every step and never edited (protocol/multi_step).
std::string multi_step_markdown(const fs::path& job_dir, const json& summary, const std::string& label) {
  const std::vector<const Column*> picked =
      columns_titled({"Rel EM", "T-Gen EM", "I-Gen acc", "I-Gen EM", "T-Loc", "M-Loc"});
  const json& metrics = summary.at("metrics");
  const std::vector<std::string> steps = checkpoints_of(metrics, picked);
  if (steps.size() < 2) return "";
  std::string md = "### " + label + ": per step\n\n| step |";
  for (const Column* column : picked) md += " " + column->title + " |";
  md += "\n|---|";
  for (std::size_t i = 0; i < picked.size(); ++i) md += "---|";
  md += "\n";
  for (const std::string& step : steps) {
    md += "| " + step + " |";
    const json at_step = metrics_at(metrics, step);
    for (const Column* column : picked) {
      const json* found = metric_of(at_step, *column);
      if (!found) {
        md += " – |";
        continue;
      }
      const json& post = found->at("post");
      char buf[96];
      std::snprintf(buf, sizeof buf, " %.3f [%.3f, %.3f] |", post.at("mean").get<double>(),
                    post.at("ci_low").get<double>(), post.at("ci_high").get<double>());
      md += buf;
    }
    md += "\n";
  }
  md += "\n";
  if (!fs::exists(job_dir / "run.h5")) return md + "Steps not compared: " + job_dir.string() + " has no run.h5.\n\n";
  const auto by_step = record_totals_by_checkpoint(job_dir / "run.h5");
  if (by_step.size() < 2) return md;
  std::vector<std::pair<std::string, std::vector<std::string>>> compared;
  for (const Column* column : picked) compared.emplace_back(column->title, column->metrics);
  const BootstrapOptions options;
  const auto& [first_step, first] = *by_step.begin();
  const auto& [last_step, last] = *by_step.rbegin();
  return md + format_comparison(compare_systems(label + " step " + std::to_string(last_step), last,
                                                label + " step " + std::to_string(first_step), first, compared,
                                                options),
                                options);
}

// Sequential jobs side by side: each metric's post-edit mean at every
// checkpoint ("1 / 10 / 100"), over the records edited by then, so the
// decay curves of several editors read as one table (the final state, with
// CIs, is in the main table; a checkpoint of one record is 0 or 1).
std::string sequential_markdown(const std::vector<std::pair<std::string, const json*>>& jobs) {
  const std::vector<const Column*> picked =
      columns_titled({"Rel EM", "T-Gen EM", "I-Gen EM", "T-Loc", "M-Loc", "M-Loc EasyEdit top-10"});
  std::string rows;
  std::vector<std::string> header_steps;
  for (const auto& [label, summary] : jobs) {
    const json& metrics = summary->at("metrics");
    const std::vector<std::string> steps = checkpoints_of(metrics, picked);
    if (steps.size() < 2) continue;
    if (steps.size() > header_steps.size()) header_steps = steps;
    std::vector<json> at_steps;  // each checkpoint's values, gathered once for every column
    for (const std::string& step : steps) at_steps.push_back(metrics_at(metrics, step));
    rows += "| " + label + " |";
    for (const Column* column : picked) {
      std::string cell;
      for (const json& at_step : at_steps) {
        const json* found = metric_of(at_step, *column);
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.2f", found ? found->at("post").at("mean").get<double>() : 0.0);
        cell += (cell.empty() ? "" : " / ") + (found ? std::string(buf) : std::string("–"));
      }
      rows += " " + cell + " |";
    }
    rows += "\n";
  }
  if (rows.empty()) return "";
  std::string steps_title;
  for (const std::string& step : header_steps) steps_title += (steps_title.empty() ? "" : " / ") + step;
  std::string md = "## Sequential: post-edit means after " + steps_title +
                   " edits\n\nEach cell: the metric over every record edited so far, at each checkpoint in "
                   "turn.\n\n| job |";
  for (const Column* column : picked) md += " " + column->title + " |";
  md += "\n|---|";
  for (std::size_t i = 0; i < picked.size(); ++i) md += "---|";
  return md + "\n" + rows;
}

std::string quote_gnuplot(const std::string& s) {
  std::string out;
  for (char c : s) out += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
  return out;
}

void run_gnuplot(const fs::path& script) {
  std::string command = "gnuplot \"" + script.string() + "\" 2>\"" + script.string() + ".log\"";
  int status = std::system(command.c_str());
  if (status != 0) {
    std::ifstream log(script.string() + ".log");
    std::string text((std::istreambuf_iterator<char>(log)), {});
    throw Error("gnuplot failed on " + script.string() + ": " + text +
                " (is gnuplot installed? apt-get install gnuplot-nox; ./bootstrap.sh does)");
  }
}

}  // namespace

ReportFiles write_report(const fs::path& dir, bool plots, const std::string& baseline) {
  if (!fs::is_directory(dir)) throw UsageError("report: '" + dir.string() + "' is not a directory");
  std::vector<Job> jobs;
  std::vector<fs::path> summaries;
  for (const fs::path& job_dir : find_job_dirs(dir)) summaries.push_back(job_dir / "summary.json");
  if (summaries.empty())
    throw UsageError("report: no summary.json under '" + dir.string() +
                     "'; point it at a finished run (outputs/<date>/<time>) or sweep (multirun/<date>/<time>)");
  for (const fs::path& file : summaries) {
    std::ifstream in(file);
    Job job;
    job.dir = file.parent_path();
    try {
      job.summary = json::parse(in);
    } catch (const json::exception& e) {
      throw DataError("report: " + file.string() + " is not valid JSON (" + e.what() +
                      "); fix: restore the file from `mike run`, or move it aside and run `mike run --resume " +
                      job.dir.string() + "` to write it again from run.h5");
    }
    check_summary_shape(file, job.summary);
    job.keys = read_overrides(job.dir, "report");
    jobs.push_back(std::move(job));
  }
  auto key_value = [](const Job& job, const std::string& key) -> std::string {
    // The last override of a key is the one that took effect.
    for (auto it = job.keys.rbegin(); it != job.keys.rend(); ++it)
      if (it->first == key) return it->second;
    if (job.summary.contains(key) && job.summary.at(key).is_string()) return job.summary.at(key).get<std::string>();
    return "–";
  };
  // Row keys: the overridden keys whose value differs between jobs (what the
  // sweep swept); a single run, or a sweep of one, is described by what it ran.
  std::vector<std::string> keys;
  for (const Job& job : jobs)
    for (const auto& [key, value] : job.keys) {
      if (key == "out_dir" || std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
      bool varies = false;
      for (const Job& other : jobs) varies = varies || key_value(other, key) != value;
      if (varies) keys.push_back(key);
    }
  if (keys.empty()) keys = {"model", "editor", "task", "protocol"};

  ReportFiles files;
  files.jobs = static_cast<int>(jobs.size());
  // Two Markdown tables, edit success and locality, so that each fits a
  // terminal; the CSV has every column in one row per job.
  auto markdown_table = [&](bool locality) {
    std::string md = "|";
    std::size_t shown = 0;
    for (const std::string& key : keys) md += " " + key + " |";
    for (const Column& column : columns())
      if (column.locality == locality) {
        md += " " + column.title + " |";
        ++shown;
      }
    md += "\n|";
    for (std::size_t i = 0; i < keys.size() + shown; ++i) md += "---|";
    md += "\n";
    const json empty = json::object();
    for (const Job& job : jobs) {
      const json& final_values = job.summary.contains("final") ? job.summary.at("final") : empty;
      md += "|";
      for (const std::string& key : keys) md += " " + key_value(job, key) + " |";
      for (const Column& column : columns())
        if (column.locality == locality) md += " " + cell(metric_of(final_values, column)) + " |";
      md += "\n";
    }
    return md;
  };
  std::string md = markdown_table(false) + "\n" + markdown_table(true);
  std::string csv;
  for (const std::string& key : keys) csv += key + ",";
  for (const Column& column : columns())
    csv += column.title + "," + column.title + " ci_low," + column.title + " ci_high," + column.title + " pre,";
  csv += "status,dir\n";
  for (const Job& job : jobs) {
    const json empty = json::object();
    const json& final_values = job.summary.contains("final") ? job.summary.at("final") : empty;
    for (const std::string& key : keys) csv += key_value(job, key) + ",";
    for (const Column& column : columns()) {
      const json* metric = metric_of(final_values, column);
      if (metric) {
        const json& post = metric->at("post");
        char buf[96];
        std::snprintf(buf, sizeof buf, "%.6f,%.6f,%.6f,%.6f,", post.at("mean").get<double>(),
                      post.at("ci_low").get<double>(), post.at("ci_high").get<double>(),
                      metric->at("pre").at("mean").get<double>());
        csv += buf;
      } else {
        csv += ",,,,";
      }
    }
    csv += job.summary.value("status", std::string("?")) + "," + job.dir.string() + "\n";
  }
  auto row_label = [&](const Job& job) {
    std::string label;
    for (const std::string& key : keys) label += (label.empty() ? "" : " ") + key_value(job, key);
    return label;
  };
  if (jobs.size() > 1) {
    std::vector<fs::path> dirs;
    std::vector<std::string> labels;
    for (const Job& job : jobs) {
      dirs.push_back(job.dir);
      labels.push_back(row_label(job));
    }
    // Jobs the swept keys do not tell apart are named by their directory too.
    const std::vector<std::string> plain = labels;
    std::vector<std::string> relative_dirs;
    for (const Job& job : jobs) relative_dirs.push_back(fs::relative(job.dir, dir).string());
    for (std::size_t j = 0; j < jobs.size(); ++j)
      if (std::count(plain.begin(), plain.end(), plain[j]) > 1) labels[j] = plain[j] + " (" + relative_dirs[j] + ")";
    std::optional<std::size_t> baseline_index;
    if (!baseline.empty()) baseline_index = baseline_job(baseline, plain, relative_dirs);
    md += "\n" + comparisons_markdown(dirs, labels, baseline_index);
  } else if (!baseline.empty()) {
    throw UsageError("report: --baseline '" + baseline + "' needs a sweep of two or more jobs; '" + dir.string() +
                     "' holds one run");
  }
  {
    std::string steps_md;
    for (const Job& job : jobs)
      if (job.summary.value("protocol", std::string()) == "multi_step" && job.summary.contains("metrics"))
        steps_md += multi_step_markdown(job.dir, job.summary, row_label(job));
    if (!steps_md.empty())
      md += "\n## Multi-step: scores per step, last step vs step 1\n\nPost-edit mean [95% CI] per step; the "
            "comparison pairs the last step with step 1 on the same records (" +
            std::string(kPairedCiMethod) + ", Holm across its rows). * = the CI excludes 0.\n\n" + steps_md;
    std::vector<std::pair<std::string, const json*>> sequential;
    for (const Job& job : jobs)
      if (job.summary.value("protocol", std::string()) == "sequential" && job.summary.contains("metrics"))
        sequential.emplace_back(row_label(job), &job.summary);
    const std::string sequential_md = sequential_markdown(sequential);
    if (!sequential_md.empty()) md += "\n" + sequential_md;
  }
  // What produced the numbers (a number without its setting cannot be compared).
  std::vector<std::string> settings;
  for (const Job& job : jobs) {
    const json& s = job.summary;
    std::string setting = "model " + s.value("model", std::string("?")) + ", I-Gen variant " +
                          s.value("igen", std::string("?"));
    if (s.contains("world") && s.at("world").is_object()) {
      const json& w = s.at("world");
      setting += ", world " + w.value("dir", std::string("?"));
      if (w.contains("synth") && w.at("synth").is_object())
        setting += " (synthetic v" + std::to_string(w.value("version", 0)) + ", edit_targets " +
                   w.at("synth").value("edit_targets", std::string("?")) + ")";
    }
    if (std::find(settings.begin(), settings.end(), setting) == settings.end()) settings.push_back(setting);
  }
  std::string setting_lines;
  for (const std::string& setting : settings) setting_lines += "Setting: " + setting + ".\n";
  md = setting_lines + "\n" + md;
  files.table = md;
  files.markdown = dir / "report.md";
  files.csv = dir / "report.csv";
  std::ofstream(files.markdown) << "# mike report: " << dir.string() << "\n\n"
                                << "Each cell: pre-edit → post-edit mean ± half the 95% CI of the post-edit mean "
                                   "(percentile bootstrap over records). acc = teacher-forced token accuracy, "
                                   "TF-EM = every teacher-forced token right (EasyEdit's exact match), EM = greedy "
                                   "generation exact match (mention for ELC); EasyEdit columns: docs/metrics.md.\n\n"
                                << md;
  std::ofstream(files.csv) << csv;
  if (!plots) return files;

  // Grouped bars: one group per metric column, one bar per job, CI as error bars.
  {
    fs::path data = dir / "report_bars.dat", script = dir / "report_bars.gp";
    std::ofstream out(data);
    for (const Column& column : columns()) {
      out << "\"" << column.title << "\"";
      for (const Job& job : jobs) {
        const json* metric = job.summary.contains("final") ? metric_of(job.summary.at("final"), column) : nullptr;
        if (metric) {
          const json& post = metric->at("post");
          out << " " << post.at("mean").get<double>() << " " << post.at("ci_low").get<double>() << " "
              << post.at("ci_high").get<double>();
        } else {
          out << " NaN NaN NaN";
        }
      }
      out << "\n";
    }
    out.close();
    std::ofstream gp(script);
    for (const char* terminal : {"svg size 1000,480 dynamic", "png size 1000,480"}) {
      std::string ext = std::string(terminal).substr(0, 3);
      gp << "set terminal " << terminal << "\nset output \"" << quote_gnuplot((dir / ("report_bars." + ext)).string())
         << "\"\nset title \"Post-edit scores (mean, 95% CI)\"\nset yrange [0:1.05]\nset grid ytics\n"
         << "set style data histogram\nset style histogram errorbars gap 2 lw 1\nset style fill solid 0.6 border -1\n"
         << "set key outside right\nset xtics rotate by -30\nplot ";
      for (std::size_t j = 0; j < jobs.size(); ++j) {
        int c = static_cast<int>(2 + 3 * j);
        gp << (j ? ", " : "") << "\"" << quote_gnuplot(data.string()) << "\" using " << c << ":" << c + 1 << ":"
           << c + 2 << ":xtic(1) title \"" << quote_gnuplot(row_label(jobs[j])) << "\"";
      }
      gp << "\n";
    }
    gp.close();
    run_gnuplot(script);
    files.plots.push_back(dir / "report_bars.svg");
    files.plots.push_back(dir / "report_bars.png");
  }
  // Lines over checkpoints (sequential: edits applied; multi_step: step).
  std::vector<const Job*> stepped;
  for (const Job& job : jobs)
    if (job.summary.contains("metrics") && job.summary.at("metrics").contains("reliability.token_acc") &&
        job.summary.at("metrics").at("reliability.token_acc").size() > 1)
      stepped.push_back(&job);
  if (!stepped.empty()) {
    // One panel per metric, one line per job: a sweep of a dozen editors
    // stays readable. Checkpoints such as 1 / 10 / 100 / 1000 get a log axis.
    fs::path script = dir / "report_steps.gp";
    const char* panels[] = {"Rel EM", "I-Gen EM", "T-Loc", "M-Loc"};
    std::vector<std::vector<std::pair<std::string, fs::path>>> series(std::size(panels));
    long long first_x = 0, last_x = 0;
    for (std::size_t j = 0; j < stepped.size(); ++j) {
      const json& metrics = stepped[j]->summary.at("metrics");
      for (std::size_t p = 0; p < std::size(panels); ++p) {
        const std::vector<const Column*> column = columns_titled({panels[p]});
        const json* by_checkpoint = column.empty() ? nullptr : metric_of(metrics, *column.front());
        if (!by_checkpoint) continue;
        fs::path data = dir / ("report_steps_" + std::to_string(j) + "_" + std::to_string(p) + ".dat");
        std::vector<std::pair<long long, double>> points;
        for (const auto& [checkpoint, value] : by_checkpoint->items())
          points.emplace_back(std::stoll(checkpoint), value.at("post").at("mean").get<double>());
        std::sort(points.begin(), points.end());
        std::ofstream out(data);
        for (const auto& [x, y] : points) {
          out << x << " " << y << "\n";
          first_x = first_x == 0 ? x : std::min(first_x, x);
          last_x = std::max(last_x, x);
        }
        series[p].emplace_back(row_label(*stepped[j]), data);
      }
    }
    const bool log_x = first_x > 0 && last_x / 100 >= first_x;
    std::vector<std::size_t> drawn;  // panels with data: a metric no job has gets no empty panel
    for (std::size_t p = 0; p < std::size(panels); ++p)
      if (!series[p].empty()) drawn.push_back(p);
    std::ofstream gp(script);
    for (const char* terminal : {"svg size 1200,900 dynamic", "png size 1200,900"}) {
      std::string ext = std::string(terminal).substr(0, 3);
      gp << "set terminal " << terminal << " noenhanced\nset output \""
         << quote_gnuplot((dir / ("report_steps." + ext)).string()) << "\"\n"
         << "set multiplot layout " << (drawn.size() > 2 ? 2 : 1) << "," << (drawn.size() > 1 ? 2 : 1)
         << " title \"Post-edit means over edits applied (sequential) or steps (multi-step)\"\n"
         << "set yrange [0:1.05]\nset grid\nset key below maxrows 4 font \",9\"\n"
         << (log_x ? "set logscale x\nset xrange [" + std::to_string(first_x) + "*0.8:" + std::to_string(last_x) +
                         "*1.25]\n"
                   : std::string("unset logscale x\nset autoscale x\n"));
      for (std::size_t p : drawn) {
        gp << "set title \"" << panels[p] << "\"\nplot ";
        for (std::size_t i = 0; i < series[p].size(); ++i)
          gp << (i ? ", " : "") << "\"" << quote_gnuplot(series[p][i].second.string())
             << "\" using 1:2 with linespoints title \"" << quote_gnuplot(series[p][i].first) << "\"";
        gp << "\n";
      }
      gp << "unset multiplot\n";
    }
    gp.close();
    if (!drawn.empty()) {
      run_gnuplot(script);
      files.plots.push_back(dir / "report_steps.svg");
      files.plots.push_back(dir / "report_steps.png");
    }
  }
  return files;
}

}  // namespace mike
