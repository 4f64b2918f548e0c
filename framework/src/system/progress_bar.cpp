#include "system/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace mike {

std::string format_duration(double seconds) {
  const int s = static_cast<int>(std::max(0.0, seconds) + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%dh%02dm", s / 3600, (s / 60) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dm%02ds", s / 60, s % 60);
  return buf;
}

ProgressBar::ProgressBar(std::string label, std::int64_t total, bool enabled, std::int64_t first)
    : label_(std::move(label)),
      total_(std::max<std::int64_t>(1, total)),
      first_(first),
      enabled_(enabled),
      terminal_(isatty(fileno(stderr)) != 0),
      last_bucket_(first * 20 / std::max<std::int64_t>(1, total)),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void ProgressBar::finish() {
  if (enabled_ && terminal_ && drew_) std::fprintf(stderr, "\n");
  drew_ = false;
}

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressBar::update(std::int64_t done, const std::string& status) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const bool last = done >= total_;
  const bool redraw = terminal_ && std::chrono::duration<double>(now - last_draw_).count() > 0.5;
  const bool next_line = !terminal_ && done * 20 / total_ > last_bucket_;
  if (!(redraw || next_line || last)) return;
  last_draw_ = now;
  last_bucket_ = done * 20 / total_;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = static_cast<double>(done - first_) / std::max(elapsed, 1e-9);
  const std::string eta = format_duration(static_cast<double>(total_ - done) / std::max(rate, 1e-9));
  if (terminal_) {
    const int width = 30;
    const int filled = static_cast<int>(width * std::min(done, total_) / total_);
    std::fprintf(stderr, "\r%s [%s%s] %lld/%lld %s  ETA %s   ", label_.c_str(), std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), static_cast<long long>(done),
                 static_cast<long long>(total_), status.c_str(), eta.c_str());
  } else {
    std::fprintf(stderr, "%s %lld/%lld (%lld%%) %s  ETA %s\n", label_.c_str(), static_cast<long long>(done),
                 static_cast<long long>(total_), static_cast<long long>(100 * done / total_), status.c_str(),
                 eta.c_str());
  }
  drew_ = true;
  std::fflush(stderr);
}

}  // namespace mike
