#pragma once
// Runs a shell command for CLI tests and captures its exit code and output.
#include <string>

namespace mike::test {

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `command` with /bin/sh; stdout and stderr captured separately.
CommandResult run_command(const std::string& command);
// `MIKE_EXE` followed by `args` (already shell-quoted where needed).
CommandResult run_mike(const std::string& args);
// A fresh empty directory under the build tree's test scratch area.
std::string make_temp_dir(const std::string& label);
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& content);

}  // namespace mike::test
