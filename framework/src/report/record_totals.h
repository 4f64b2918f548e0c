#pragma once
// Per-record values of a finished run for paired comparisons: from run.h5,
// each metric's post-edit rows at its final checkpoint (the largest; the
// state summary.json calls "final"), or at every checkpoint, summed per record.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "run/aggregate.h"

namespace mike {

// metric name -> per-record post-edit sums and counts (one series). Rows of
// an incomplete unit (a killed run) are left out. Throws Error when run.h5
// cannot be read.
std::map<std::string, RecordTotals> final_record_totals(const std::filesystem::path& run_h5);

// checkpoint (edits applied, or multi_step's step) -> metric -> per-record
// post-edit sums and counts at that checkpoint. Same rules as above.
std::map<std::int64_t, std::map<std::string, RecordTotals>> record_totals_by_checkpoint(
    const std::filesystem::path& run_h5);

}  // namespace mike
