#pragma once
// A folder of this fuzzer process for the files a target writes its input
// into: the code under test reads users' bytes from files (configs, datasets,
// checkpoints, plugins), so the targets feed it through the same door. It
// lives in /dev/shm when there is one, so an execution costs no disk I/O,
// and is removed when the process exits.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace mike::fuzz {

class ScratchDir {
 public:
  ScratchDir() {
    std::filesystem::path base = std::filesystem::is_directory("/dev/shm") ? std::filesystem::path("/dev/shm")
                                                                           : std::filesystem::temp_directory_path();
    path_ = base / ("mike_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes `bytes` to <scratch>/<relative> (creating its folders) and returns the full path.
  std::filesystem::path write(const std::string& relative, std::string_view bytes) const {
    std::filesystem::path file = path_ / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return file;
  }

  // Removes <scratch>/<relative> if it is there, so a file one execution
  // wrote is not read by the next.
  void remove(const std::string& relative) const {
    std::error_code ignored;
    std::filesystem::remove(path_ / relative, ignored);
  }

 private:
  std::filesystem::path path_;
};

// One per process: every execution of a target reuses it.
inline const ScratchDir& scratch() {
  static const ScratchDir dir;
  return dir;
}

}  // namespace mike::fuzz
