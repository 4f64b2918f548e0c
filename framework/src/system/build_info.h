#pragma once
// What this binary is and what it runs on: version, git state, LibTorch,
// BLAS, threads. Shown by `mike --version` and stored in every run log.
#include <cstdint>
#include <string>

#include "mike/config.h"

namespace mike {

const char* mike_version();
const char* git_sha();   // generated at build time
bool git_dirty();
const char* torch_version();
// "none (CPU-only LibTorch)", or "N device(s) visible" / "built in, no device
// visible" for a LibTorch with CUDA: what `device: cuda` can use.
std::string cuda_summary();

struct BlasInfo {
  std::string library;   // resolved path of the loaded BLAS, or "" if none found
  std::string vendor;    // "OpenBLAS (pthread)", "OpenBLAS (openmp)", "reference BLAS", "MKL", "unknown"
  bool is_reference = false;  // the netlib reference BLAS: ~20x slower matmul
};
BlasInfo detect_blas();

// The most LibTorch threads mike sets: 4 per core, at most 1024 (more only
// thrashes, and a huge count makes LibTorch spin up threads for minutes).
int max_threads();
// Sets LibTorch intra-op threads and, when the BLAS is OpenBLAS, its own
// pool to the same count; 0 means all cores. Returns the count set.
// Throws ConfigError for a count outside 0..max_threads().
int configure_threads(int threads);
// OpenBLAS's thread count now in force, or 0 when the BLAS is not OpenBLAS.
int blas_threads();
// `threads: auto` (the default): one thread for a model under
// kOneThreadBelowParameters parameters, else one per core. Measured with
// bench_model on 2 cores (results/perf/threads.md): every native preset up
// to llava_l (63M) scores and decodes fastest on 1 thread, 1.2-4x faster than
// on 2, because LibTorch's and OpenBLAS's threads cost more than they share
// on matrices this small; a 7B checkpoint's matrices are large enough to split.
inline constexpr int kAutoThreads = -1;
inline constexpr std::int64_t kOneThreadBelowParameters = 100'000'000;
int auto_threads(std::int64_t parameters);
// The config's `threads` key: a count, 0 (one per core) or kAutoThreads;
// ConfigError naming the key and where it was set otherwise.
int configured_threads(const Config& root);
// As configure_threads, from the config's `threads` key; auto sets 1 until
// settle_threads() knows the model.
int configure_threads(const Config& root);
// The final setting once the model's parameter count is known (auto
// resolves by it; a count stays as configured). Returns the count set.
int settle_threads(const Config& root, std::int64_t parameters);

}  // namespace mike
