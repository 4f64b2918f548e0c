#include "report/record_totals.h"

#include <algorithm>

#include "log/run_log.h"

namespace mike {

std::map<std::int64_t, std::map<std::string, RecordTotals>> record_totals_by_checkpoint(
    const std::filesystem::path& run_h5) {
  auto log = RunLog::open_read_only(run_h5);
  std::map<std::int64_t, std::map<std::string, RecordTotals>> out;
  for (const std::string& name : log->metric_names()) {
    std::map<std::int64_t, std::pair<std::vector<std::string>, std::vector<double>>> rows_at;
    for (const MetricRow& r : log->read_metric(name)) {
      if (r.edit >= log->edit_count()) continue;  // a unit the run did not finish
      rows_at[r.checkpoint].first.push_back(r.record_id);
      rows_at[r.checkpoint].second.push_back(r.post);
    }
    for (const auto& [checkpoint, rows] : rows_at) out[checkpoint][name] = totals_by_record(rows.first, {rows.second});
  }
  return out;
}

std::map<std::string, RecordTotals> final_record_totals(const std::filesystem::path& run_h5) {
  std::map<std::string, RecordTotals> out;
  // Each metric at the largest checkpoint it has (the map is in checkpoint order).
  for (auto& [checkpoint, metrics] : record_totals_by_checkpoint(run_h5))
    for (auto& [name, totals] : metrics) out[name] = std::move(totals);
  return out;
}

}  // namespace mike
