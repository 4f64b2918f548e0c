#pragma once
// The one progress display of long host steps (pretraining, editor fits):
// on a terminal a bar redrawn at most twice a second; into a log file (Slurm,
// nohup, CI) one line per 5% instead of thousands of redraws. Both show
// done/total, the caller's status text and an ETA from the rate so far.
#include <chrono>
#include <cstdint>
#include <string>

namespace mike {

// "4m05s", "1h02m".
std::string format_duration(double seconds);

class ProgressBar {
 public:
  // `label` starts every line ("pretrain", "fit mend"). `first` is the step
  // counting starts from (a resumed run), so the ETA uses this run's rate.
  ProgressBar(std::string label, std::int64_t total, bool enabled, std::int64_t first = 0);
  ~ProgressBar() { finish(); }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  void update(std::int64_t done, const std::string& status);
  // Ends a terminal bar's line, so what is printed next starts on its own.
  void finish();
  void set_total(std::int64_t total) { total_ = total; }
  double elapsed_seconds() const;

 private:
  std::string label_;
  std::int64_t total_, first_;
  bool enabled_, terminal_;
  std::int64_t last_bucket_;
  bool drew_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace mike
