#pragma once
// What this binary is and what it runs on: version, git state, LibTorch,
// BLAS, threads. Shown by `mike --version` and stored in every run log.
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
// As configure_threads, from the config's `threads` key (0 when absent); the
// error names the key and where it was set.
int configure_threads(const Config& root);

}  // namespace mike
