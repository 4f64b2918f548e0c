#include "report/record_totals.h"

#include <algorithm>

#include "log/run_log.h"

namespace mike {

std::map<std::string, RecordTotals> final_record_totals(const std::filesystem::path& run_h5) {
  auto log = RunLog::open_read_only(run_h5);
  std::map<std::string, RecordTotals> out;
  for (const std::string& name : log->metric_names()) {
    std::vector<MetricRow> rows = log->read_metric(name);
    rows.erase(std::remove_if(rows.begin(), rows.end(), [&](const MetricRow& r) { return r.edit >= log->edit_count(); }),
               rows.end());
    if (rows.empty()) continue;
    std::int64_t last = rows.front().checkpoint;
    for (const MetricRow& r : rows) last = std::max(last, r.checkpoint);
    std::vector<std::string> ids;
    std::vector<double> post;
    for (const MetricRow& r : rows)
      if (r.checkpoint == last) {
        ids.push_back(r.record_id);
        post.push_back(r.post);
      }
    out[name] = totals_by_record(ids, {post});
  }
  return out;
}

}  // namespace mike
