#include "process.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace mike::test {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string make_temp_dir(const std::string& label) {
  static std::atomic<int> counter{0};
  fs::path dir = fs::path(MIKE_BINARY_DIR) / "test_scratch" /
                 (label + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

CommandResult run_command(const std::string& command) {
  std::string dir = make_temp_dir("cmd");
  std::string out = dir + "/stdout", err = dir + "/stderr";
  std::string full = "(" + command + ") >" + out + " 2>" + err + " </dev/null";
  int status = std::system(full.c_str());
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = read_file(out);
  result.err = read_file(err);
  fs::remove_all(dir);
  return result;
}

CommandResult run_mike(const std::string& args) { return run_command(std::string(MIKE_EXE) + " " + args); }

}  // namespace mike::test
