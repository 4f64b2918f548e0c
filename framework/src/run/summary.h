#pragma once
// summary.json of a run: aggregates (mean, 95% bootstrap CI) of every metric
// in run.h5, pre and post, per checkpoint (sequential: edits applied;
// multi_step: step; otherwise 1), plus what was run. `mike report` reads it.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <string>

#include "log/run_log.h"

namespace mike {

// metrics[<probe>.<value>][checkpoint] = {pre, post}
nlohmann::json summarize_metrics(const RunLog& log);

// The terminal table of the final checkpoint: one row per metric, pre and post ± CI.
std::string format_summary_table(const nlohmann::json& summary);

void write_json(const std::filesystem::path& path, const nlohmann::json& value);

}  // namespace mike
