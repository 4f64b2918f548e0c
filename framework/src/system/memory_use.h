#pragma once
// Peak memory of this process, recorded in summary.json so a run on a large
// checkpoint says what it needed.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace mike {

// Peak resident set size in bytes: since the last reset_peak_rss() that
// succeeded (VmHWM), else of the whole process so far (getrusage).
std::int64_t peak_rss_bytes();
// Starts a new peak at the current RSS (/proc/self/clear_refs, Linux >= 4.0),
// so that a job run in-process after others reports its own peak; false
// where the kernel refuses, and the peak then stays the process's.
bool reset_peak_rss();
// Resident set size now (/proc/self/status VmRSS), in bytes; -1 if unknown.
std::int64_t resident_bytes();
// How much the resident set grew at its peak while `action` ran, in bytes.
// Exact (VmHWM after resetting it through /proc/self/clear_refs, Linux >= 4.0)
// where the kernel allows the reset; otherwise VmRSS sampled every
// millisecond, which can only under-read. Used by benches to say what one
// step costs on top of what is already resident (getrusage's peak is the
// whole process's and never goes down).
struct RssGrowth {
  std::int64_t bytes = 0;
  bool exact = false;
};
RssGrowth peak_rss_growth(const std::function<void()>& action);
// Peak bytes allocated by LibTorch's CUDA caching allocator on `device`
// ("cuda", "cuda:N"); nullopt on CPU or when this LibTorch has no CUDA.
std::optional<std::int64_t> peak_cuda_allocated_bytes(const std::string& device);

}  // namespace mike
