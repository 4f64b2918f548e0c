#pragma once
// Peak memory of this process, recorded in summary.json so a run on a large
// checkpoint says what it needed.
#include <cstdint>
#include <optional>
#include <string>

namespace mike {

// Peak resident set size of this process so far (getrusage), in bytes.
std::int64_t peak_rss_bytes();
// Peak bytes allocated by LibTorch's CUDA caching allocator on `device`
// ("cuda", "cuda:N"); nullopt on CPU or when this LibTorch has no CUDA.
std::optional<std::int64_t> peak_cuda_allocated_bytes(const std::string& device);

}  // namespace mike
