#include "run/summary.h"

#include <cstdio>
#include <fstream>

#include "mike/error.h"

namespace mike {

namespace {
nlohmann::json to_json(const Aggregate& a) {
  return {{"mean", a.mean}, {"ci_low", a.ci_low}, {"ci_high", a.ci_high}, {"n", a.n}, {"records", a.records}};
}

struct CheckpointRows {
  std::vector<std::string> record_ids;
  std::vector<double> pre, post;
};
}  // namespace

nlohmann::json summarize_metrics(const RunLog& log, const BootstrapOptions& options) {
  nlohmann::json out = nlohmann::json::object();
  for (const std::string& name : log.metric_names()) {
    std::map<std::int64_t, CheckpointRows> by_checkpoint;
    for (const MetricRow& row : log.read_metric(name)) {
      CheckpointRows& rows = by_checkpoint[row.checkpoint];
      rows.record_ids.push_back(row.record_id);
      rows.pre.push_back(row.pre);
      rows.post.push_back(row.post);
    }
    for (const auto& [checkpoint, rows] : by_checkpoint) {
      // Pre and post share the record draws: one index stream for both.
      auto both = cluster_bootstrap(totals_by_record(rows.record_ids, {rows.pre, rows.post}), options);
      out[name][std::to_string(checkpoint)] = {{"pre", to_json(both[0])}, {"post", to_json(both[1])}};
    }
  }
  return out;
}

nlohmann::json describe_intervals(const BootstrapOptions& options) {
  return {{"method", kCiMethod},       {"unit", kCiUnit},           {"estimator", kCiEstimator},
          {"resamples", options.resamples}, {"level", options.level}, {"seed", options.seed}};
}

std::string format_summary_table(const nlohmann::json& summary) {
  std::string text;
  char line[256];
  std::snprintf(line, sizeof line, "%-28s %-24s %-24s %6s %7s\n", "metric", "pre [95% CI]", "post [95% CI]", "n",
                "records");
  text += line;
  const nlohmann::json& metrics = summary.at("final");
  for (const auto& [name, values] : metrics.items()) {
    auto cell = [](const nlohmann::json& a) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.3f [%.3f, %.3f]", a.at("mean").get<double>(), a.at("ci_low").get<double>(),
                    a.at("ci_high").get<double>());
      return std::string(buf);
    };
    const nlohmann::json& post = values.at("post");
    std::snprintf(line, sizeof line, "%-28s %-24s %-24s %6lld %7lld\n", name.c_str(), cell(values.at("pre")).c_str(),
                  cell(post).c_str(), static_cast<long long>(post.at("n").get<int64_t>()),
                  static_cast<long long>(post.value("records", post.at("n").get<int64_t>())));
    text += line;
  }
  return text;
}

void write_json(const std::filesystem::path& path, const nlohmann::json& value) {
  // Write then rename: a reader never sees half a file.
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp);
    out << value.dump(2) << "\n";
    if (!out) throw Error("cannot write " + tmp.string());
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace mike
