#pragma once
// Per-record values of a finished run for paired comparisons: from run.h5,
// each metric's post-edit rows at its final checkpoint (the largest; the
// state summary.json calls "final"), summed per record.
#include <filesystem>
#include <map>
#include <string>

#include "run/aggregate.h"

namespace mike {

// metric name -> per-record post-edit sums and counts (one series). Rows of
// an incomplete unit (a killed run) are left out. Throws Error when run.h5
// cannot be read.
std::map<std::string, RecordTotals> final_record_totals(const std::filesystem::path& run_h5);

}  // namespace mike
