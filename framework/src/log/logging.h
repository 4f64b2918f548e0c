#pragma once
// Process-wide logging: spdlog to stderr, plus an optional file sink for the
// current run directory.
#include <string>

namespace mike {

// verbosity: 0 = info (default), >0 = debug/trace, <0 = warn/error only.
void init_logging(int verbosity);
// Also write log lines to `path` (the run's mike.log) from now on.
void add_log_file(const std::string& path);

}  // namespace mike
