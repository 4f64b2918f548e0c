#pragma once
// summary.json of a run: aggregates (mean, 95% record-level bootstrap CI,
// run/aggregate.h) of every metric in run.h5, pre and post, per checkpoint
// (sequential: edits applied; multi_step: step; otherwise 1), plus what was
// run. `mike report` reads it.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <string>

#include "log/run_log.h"
#include "run/aggregate.h"

namespace mike {

// metrics[<probe>.<value>][checkpoint] = {pre, post}, each
// {mean, ci_low, ci_high, n (rows), records}.
nlohmann::json summarize_metrics(const RunLog& log, const BootstrapOptions& options = {});
// summary.json's "ci": how the intervals were made (method, unit, estimator,
// resamples, level, seed).
nlohmann::json describe_intervals(const BootstrapOptions& options);

// The terminal table of the final checkpoint: one row per metric, pre and post ± CI.
std::string format_summary_table(const nlohmann::json& summary);

void write_json(const std::filesystem::path& path, const nlohmann::json& value);

}  // namespace mike
