#include "system/build_info.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <link.h>
#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <climits>
#include <cstdlib>
#include <thread>
#include <vector>

#include "config/config_impl.h"
#include "mike/error.h"

namespace mike {

const char* mike_version() { return MIKE_VERSION_STRING; }
const char* torch_version() { return TORCH_VERSION; }

std::string cuda_summary() {
  if (!at::hasCUDA()) return "none (CPU-only LibTorch; device=cuda needs mike built with -DTorch_DIR=<a CUDA LibTorch>)";
  const auto devices = torch::cuda::device_count();
  if (devices == 0) return "built in, but no device is visible (check the driver and CUDA_VISIBLE_DEVICES)";
  return std::to_string(devices) + " device(s) visible";
}

namespace {
int collect_library(struct dl_phdr_info* info, size_t, void* data) {
  auto* names = static_cast<std::vector<std::string>*>(data);
  if (info->dlpi_name && info->dlpi_name[0]) names->emplace_back(info->dlpi_name);
  return 0;
}
}  // namespace

BlasInfo detect_blas() {
  std::vector<std::string> libraries;
  dl_iterate_phdr(collect_library, &libraries);
  BlasInfo info;
  info.vendor = "unknown";
  for (const std::string& name : libraries) {
    bool is_blas = name.find("libblas") != std::string::npos || name.find("openblas") != std::string::npos ||
                   name.find("libmkl") != std::string::npos;
    if (!is_blas) continue;
    char resolved[PATH_MAX];
    std::string path = realpath(name.c_str(), resolved) ? std::string(resolved) : name;
    info.library = path;
    if (path.find("openblas") != std::string::npos) {
      info.vendor = path.find("openmp") != std::string::npos ? "OpenBLAS (openmp)"
                    : path.find("serial") != std::string::npos ? "OpenBLAS (serial)"
                                                               : "OpenBLAS (pthread)";
      info.is_reference = false;
      return info;  // OpenBLAS wins whatever else is mapped
    }
    if (path.find("libmkl") != std::string::npos) {
      info.vendor = "MKL";
    } else if (path.find("/blas/") != std::string::npos) {
      info.vendor = "reference BLAS";
      info.is_reference = true;
    }
  }
  return info;
}

int max_threads() { return static_cast<int>(std::min(1024u, 4 * std::max(1u, std::thread::hardware_concurrency()))); }

namespace {
// OpenBLAS keeps its own thread pool beside LibTorch's: at threads=1 its
// helper threads still spin (sched_yield) on every small GEMM, which cost
// ~1.1x wall and doubled CPU time on the default job (bench/run). The
// symbols are looked up at run time because the BLAS is chosen by Debian's
// alternatives, not at link time; another BLAS simply lacks them.
using SetBlasThreads = void (*)(int);
using GetBlasThreads = int (*)();
SetBlasThreads blas_thread_setter() {
  return reinterpret_cast<SetBlasThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
}
}  // namespace

int blas_threads() {
  auto get = reinterpret_cast<GetBlasThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return get ? get() : 0;
}

int configure_threads(int threads) {
  if (threads < 0 || threads > max_threads())
    throw ConfigError("threads = " + std::to_string(threads) +
                      " is out of range; it must be from 0 (one per core) to " + std::to_string(max_threads()) +
                      " (4 per core)");
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
  if (SetBlasThreads set = blas_thread_setter()) set(threads);
  return threads;
}

int configured_threads(const Config& root) {
  if (root.has("threads") && root.get_or<std::string>("threads", "") == "auto") return kAutoThreads;
  return static_cast<int>(get_int_in_range(root, "threads", 0, 0, max_threads(),
                                           "LibTorch threads: auto, 0 = one per core, at most 4 per core"));
}

int configure_threads(const Config& root) {
  const int threads = configured_threads(root);
  // auto starts at one thread: the parameter count decides once the model exists.
  return configure_threads(threads == kAutoThreads ? 1 : threads);
}

int auto_threads(std::int64_t parameters) {
  if (parameters < kOneThreadBelowParameters) return 1;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

int settle_threads(const Config& root, std::int64_t parameters) {
  const int threads = configured_threads(root);
  return configure_threads(threads == kAutoThreads ? auto_threads(parameters) : threads);
}

}  // namespace mike
