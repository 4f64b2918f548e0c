#include "run/summary.h"

#include <cstdio>
#include <fstream>

#include "mike/error.h"
#include "run/aggregate.h"

namespace mike {

namespace {
nlohmann::json to_json(const Aggregate& a) {
  return {{"mean", a.mean}, {"ci_low", a.ci_low}, {"ci_high", a.ci_high}, {"n", a.n}};
}
}  // namespace

nlohmann::json summarize_metrics(const RunLog& log) {
  nlohmann::json out = nlohmann::json::object();
  for (const std::string& name : log.metric_names()) {
    std::map<std::int64_t, std::pair<std::vector<double>, std::vector<double>>> by_checkpoint;
    for (const MetricRow& row : log.read_metric(name)) {
      by_checkpoint[row.checkpoint].first.push_back(row.pre);
      by_checkpoint[row.checkpoint].second.push_back(row.post);
    }
    for (const auto& [checkpoint, values] : by_checkpoint)
      out[name][std::to_string(checkpoint)] = {{"pre", to_json(aggregate(values.first))},
                                               {"post", to_json(aggregate(values.second))}};
  }
  return out;
}

std::string format_summary_table(const nlohmann::json& summary) {
  std::string text;
  char line[256];
  std::snprintf(line, sizeof line, "%-28s %-24s %-24s %6s\n", "metric", "pre [95% CI]", "post [95% CI]", "n");
  text += line;
  const nlohmann::json& metrics = summary.at("final");
  for (const auto& [name, values] : metrics.items()) {
    auto cell = [](const nlohmann::json& a) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.3f [%.3f, %.3f]", a.at("mean").get<double>(), a.at("ci_low").get<double>(),
                    a.at("ci_high").get<double>());
      return std::string(buf);
    };
    std::snprintf(line, sizeof line, "%-28s %-24s %-24s %6lld\n", name.c_str(), cell(values.at("pre")).c_str(),
                  cell(values.at("post")).c_str(), static_cast<long long>(values.at("post").at("n").get<int64_t>()));
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
