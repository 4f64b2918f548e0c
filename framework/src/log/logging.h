#pragma once
// Process-wide logging: spdlog to stderr, plus an optional file sink for the
// current run directory.
#include <string>

namespace mike {

// verbosity: 0 = info (default), >0 = debug/trace, <0 = warn/error only.
void init_logging(int verbosity);
// Also write log lines to `path` (the run's mike.log) from now on.
void add_log_file(const std::string& path);
// Stop writing to a file added with add_log_file (e.g. when an in-process
// sweep moves on to its next job). Unknown paths are ignored.
void remove_log_file(const std::string& path);

}  // namespace mike
