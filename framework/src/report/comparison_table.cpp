#include "report/comparison_table.h"

#include <cstdio>

namespace mike {

Comparison compare_systems(const std::string& label_a, const std::map<std::string, RecordTotals>& a,
                           const std::string& label_b, const std::map<std::string, RecordTotals>& b,
                           const std::vector<std::pair<std::string, std::vector<std::string>>>& columns,
                           const BootstrapOptions& options) {
  Comparison out;
  out.label_a = label_a;
  out.label_b = label_b;
  auto mean_of = [](const RecordTotals& t) {
    double sum = 0.0, count = 0.0;
    for (std::size_t i = 0; i < t.counts.size(); ++i) {
      sum += t.sums.at(0)[i];
      count += t.counts[i];
    }
    return count > 0 ? sum / count : 0.0;
  };
  std::vector<double> p;
  std::vector<std::size_t> paired_rows;
  auto first_present = [](const std::map<std::string, RecordTotals>& system, const std::vector<std::string>& names) {
    for (const std::string& name : names)
      if (auto it = system.find(name); it != system.end()) return it;
    return system.end();
  };
  for (const auto& [title, candidates] : columns) {
    auto ia = first_present(a, candidates), ib = first_present(b, candidates);
    if (ia == a.end() || ib == b.end()) continue;
    ComparisonRow row;
    row.title = title;
    row.metric_a = ia->first;
    row.metric_b = ib->first;
    row.mean_a = mean_of(ia->second);
    row.mean_b = mean_of(ib->second);
    row.result = compare_paired(ia->second, ib->second, options);
    if (row.result.paired) {
      p.push_back(row.result.p_value);
      paired_rows.push_back(out.rows.size());
    }
    out.rows.push_back(std::move(row));
  }
  std::vector<double> adjusted = holm_adjust(p);
  for (std::size_t k = 0; k < paired_rows.size(); ++k) out.rows[paired_rows[k]].p_holm = adjusted[k];
  return out;
}

std::string format_comparison(const Comparison& comparison, const BootstrapOptions& options) {
  std::string md = "### " + comparison.label_a + " vs " + comparison.label_b + "\n\n";
  if (comparison.rows.empty()) return md + "No metric in common.\n\n";
  // Runs on different records: one sentence instead of a table of "not paired".
  bool any_paired = false, one_reason = true;
  for (const ComparisonRow& row : comparison.rows) {
    any_paired = any_paired || row.result.paired;
    one_reason = one_reason && row.result.why_not == comparison.rows.front().result.why_not;
  }
  if (!any_paired && one_reason)
    return md + "Not paired: " + comparison.rows.front().result.why_not +
           "; a paired comparison needs runs on the same records.\n\n";
  md += "| metric | " + comparison.label_a + " | " + comparison.label_b +
        " | difference [95% CI] | p | p (Holm) | records |\n|---|---|---|---|---|---|---|\n";
  // The smallest p a permutation test with R resamples can give is 1/(R+1).
  const double floor = 1.0 / (static_cast<double>(options.resamples) + 1.0);
  auto p_text = [&](double p) {
    char buf[32];
    if (p <= floor * (1 + 1e-9))
      std::snprintf(buf, sizeof buf, "<%.4f", floor);  // at the resolution of the test ("<0.0001")
    else
      std::snprintf(buf, sizeof buf, "%.4f", p);
    return std::string(buf);
  };
  for (const ComparisonRow& row : comparison.rows) {
    char buf[256];
    // A column that shows different metrics for the two says which (e.g. VNA's exact match against ELC's mention).
    const std::string title = row.metric_a == row.metric_b ? row.title
                                                           : row.title + " (" + row.metric_a + " vs " + row.metric_b + ")";
    std::snprintf(buf, sizeof buf, "| %s | %.3f | %.3f | ", title.c_str(), row.mean_a, row.mean_b);
    md += buf;
    if (!row.result.paired) {
      md += "not paired: " + row.result.why_not + " | – | – | – |\n";
      continue;
    }
    std::snprintf(buf, sizeof buf, "%+.3f [%+.3f, %+.3f]%s | ", row.result.difference, row.result.ci_low,
                  row.result.ci_high, row.result.ci_low > 0 || row.result.ci_high < 0 ? " *" : "");
    md += buf;
    md += p_text(row.result.p_value) + " | " + p_text(row.p_holm) + " | " + std::to_string(row.result.records) + " |\n";
  }
  return md + "\n";
}

}  // namespace mike
