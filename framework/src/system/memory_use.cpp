#include "system/memory_use.h"

#include <malloc.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

// The CUDA allocator's statistics exist only in a CUDA build of LibTorch
// (Debian's CPU-only one ships the header but not the CUDA runtime it
// needs): CMake defines MIKE_HAS_CUDA_ALLOCATOR_STATS when LibTorch has its
// c10_cuda target. bench/cuda/check.sh builds that case.
#ifdef MIKE_HAS_CUDA_ALLOCATOR_STATS
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace mike {

namespace {

// A field of /proc/self/status ("VmHWM:    1234 kB"), in bytes; -1 if absent.
std::int64_t proc_status_bytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1)) * 1024;
  return -1;
}

// Whether VmHWM has been reset at least once, so that it, not getrusage's
// lifetime peak, is the peak since the last reset.
bool peak_was_reset = false;

}  // namespace

std::int64_t peak_rss_bytes() {
  if (peak_was_reset) {
    const std::int64_t since_reset = proc_status_bytes("VmHWM");
    if (since_reset >= 0) return since_reset;
  }
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<std::int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  peak_was_reset = peak_was_reset || bool(out);
  return bool(out);
}

std::int64_t resident_bytes() { return proc_status_bytes("VmRSS"); }

RssGrowth peak_rss_growth(const std::function<void()>& action) {
  // Heap pages freed by earlier work go back to the kernel first, so an
  // action that reuses them shows up as growth instead of hiding in them.
  malloc_trim(0);
  RssGrowth growth;
  growth.exact = reset_peak_rss();
  const std::int64_t before = proc_status_bytes(growth.exact ? "VmHWM" : "VmRSS");
  if (growth.exact) {
    action();
    growth.bytes = proc_status_bytes("VmHWM") - before;
    return growth;
  }
  std::atomic<bool> done{false};
  std::atomic<std::int64_t> peak{before};
  std::thread sampler([&] {
    while (!done) {
      peak = std::max(peak.load(), proc_status_bytes("VmRSS"));
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  try {
    action();
  } catch (...) {
    done = true;
    sampler.join();
    throw;
  }
  done = true;
  sampler.join();
  growth.bytes = std::max(peak.load(), proc_status_bytes("VmRSS")) - before;
  return growth;
}

std::optional<std::int64_t> peak_cuda_allocated_bytes(const std::string& device) {
  const torch::Device parsed(device);
  if (!parsed.is_cuda() || !torch::cuda::is_available()) return std::nullopt;
#ifdef MIKE_HAS_CUDA_ALLOCATOR_STATS
  const int index = parsed.has_index() ? parsed.index() : 0;
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
  // Entry 0 is StatType::AGGREGATE (all pools); the enum moved namespaces
  // across LibTorch releases, its first value did not.
  return static_cast<std::int64_t>(stats.allocated_bytes[0].peak);
#else
  return std::nullopt;
#endif
}

}  // namespace mike
