#include "log/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace mike {

void init_logging(int verbosity) {
  auto logger = spdlog::get("mike");
  if (!logger) {
    logger = spdlog::stderr_color_mt("mike");
    logger->set_pattern("%^[%L]%$ %v");
  }
  spdlog::level::level_enum level = spdlog::level::info;
  if (verbosity >= 2) level = spdlog::level::trace;
  else if (verbosity == 1) level = spdlog::level::debug;
  else if (verbosity == -1) level = spdlog::level::warn;
  else if (verbosity <= -2) level = spdlog::level::err;
  logger->set_level(level);
  spdlog::set_default_logger(logger);
}

void add_log_file(const std::string& path) {
  auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path);
  sink->set_pattern("%Y-%m-%d %H:%M:%S.%e [%l] %v");
  auto logger = spdlog::default_logger();
  logger->sinks().push_back(sink);
  logger->flush_on(spdlog::level::info);
}

}  // namespace mike
