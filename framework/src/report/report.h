#pragma once
// `mike report`: collects summary.json of a run or of every job of a sweep
// into one table (rows: the swept keys; columns: Rel, T-Gen, I-Gen, T-Loc,
// M-Loc as token accuracy and exact match/mention, and EasyEdit's variants;
// each cell pre-edit → post-edit ± half the 95% CI), written as Markdown and
// CSV, and plotted with gnuplot (grouped bars per metric; lines over
// checkpoints for sequential / multi-step runs) as SVG and PNG. With several
// jobs it adds paired comparisons on the same records from each job's run.h5
// (report/comparison_table.h): each job against `baseline` when given
// (`--baseline`: a row label or job directory), else every pair for up to
// four jobs, otherwise each job against the first. Sequential jobs add a
// decay table over their checkpoints, multi-step jobs a per-step table.
#include <filesystem>
#include <string>
#include <vector>

namespace mike {

struct ReportFiles {
  std::filesystem::path markdown, csv;
  std::vector<std::filesystem::path> plots;
  std::string table;  // the Markdown table, also printed to the terminal
  int jobs = 0;
};

// `dir` is a run dir (holds summary.json) or a sweep dir (job dirs below it).
// Writes report.md, report.csv and report_*.{svg,png} into `dir`. Throws
// UsageError when no summary.json is found or `baseline` names no single
// job, Error when gnuplot fails.
ReportFiles write_report(const std::filesystem::path& dir, bool plots = true, const std::string& baseline = "");

}  // namespace mike
