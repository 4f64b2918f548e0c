#include "system/memory_use.h"

#include <sys/resource.h>
#include <torch/torch.h>

// The CUDA allocator's statistics exist only in a CUDA build of LibTorch
// (Debian's CPU-only one ships the header but not the CUDA runtime it
// needs): CMake defines MIKE_HAS_CUDA_ALLOCATOR_STATS when LibTorch has its
// c10_cuda target. bench/cuda/check.sh builds that case.
#ifdef MIKE_HAS_CUDA_ALLOCATOR_STATS
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace mike {

std::int64_t peak_rss_bytes() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<std::int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
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
