#pragma once
// The Markdown table that compares two systems metric by metric on the same
// records: both means, the paired difference with its 95% CI, the
// permutation p-value and its Holm adjustment across the table's metrics.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "report/paired_comparison.h"

namespace mike {

struct ComparisonRow {
  std::string title;   // the report column ("Rel EM")
  std::string metric;  // the run.h5 metric it shows ("reliability.exact_match")
  double mean_a = 0.0, mean_b = 0.0;
  PairedComparison result;
  double p_holm = 1.0;  // Holm-adjusted over the paired rows of this table
};

struct Comparison {
  std::string label_a, label_b;
  std::vector<ComparisonRow> rows;
};

// One row per (title, metric) present in both systems; Holm over the rows
// that pair.
Comparison compare_systems(const std::string& label_a, const std::map<std::string, RecordTotals>& a,
                           const std::string& label_b, const std::map<std::string, RecordTotals>& b,
                           const std::vector<std::pair<std::string, std::string>>& metrics,
                           const BootstrapOptions& options = {});

// "### A vs B" and the table; rows that do not pair say why.
std::string format_comparison(const Comparison& comparison, const BootstrapOptions& options = {});

}  // namespace mike
