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
  std::string metric_a, metric_b;  // the run.h5 metric it shows for each ("reliability.exact_match"): the
                                   // same, unless the systems ran tasks whose column has different metrics
  double mean_a = 0.0, mean_b = 0.0;
  PairedComparison result;
  double p_holm = 1.0;  // Holm-adjusted over the paired rows of this table
};

struct Comparison {
  std::string label_a, label_b;
  std::vector<ComparisonRow> rows;
};

// One row per report column that both systems have: `columns` gives each
// title with its candidate metrics, and each system shows the first one it
// has (as the report's cell does), so a VNA run's Rel EM (exact_match) pairs
// with an ELC run's (mention) on the same records. Holm over the rows that pair.
Comparison compare_systems(const std::string& label_a, const std::map<std::string, RecordTotals>& a,
                           const std::string& label_b, const std::map<std::string, RecordTotals>& b,
                           const std::vector<std::pair<std::string, std::vector<std::string>>>& columns,
                           const BootstrapOptions& options = {});

// "### A vs B" and the table; rows that do not pair say why.
std::string format_comparison(const Comparison& comparison, const BootstrapOptions& options = {});

}  // namespace mike
