#pragma once
// What this binary is and what it runs on: version, git state, LibTorch,
// BLAS, threads. Shown by `mike --version` and stored in every run log.
#include <string>

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

// Sets LibTorch intra-op threads; 0 means all cores. Returns the count set.
int configure_threads(int threads);

}  // namespace mike
