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
  // The console sink filters by verbosity; the logger itself may pass more
  // (info) to a run's mike.log, which records a job fully even under -q.
  for (auto& sink : logger->sinks()) {
    if (!std::dynamic_pointer_cast<spdlog::sinks::basic_file_sink_mt>(sink)) sink->set_level(level);
  }
  bool has_file = logger->sinks().size() > 1;
  logger->set_level(has_file ? std::min(level, spdlog::level::info) : level);
  spdlog::set_default_logger(logger);
}

void add_log_file(const std::string& path) {
  auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path);
  sink->set_pattern("%Y-%m-%d %H:%M:%S.%e [%l] %v");
  sink->set_level(spdlog::level::trace);
  auto logger = spdlog::default_logger();
  logger->sinks().push_back(sink);
  if (logger->level() > spdlog::level::info) logger->set_level(spdlog::level::info);
  logger->flush_on(spdlog::level::info);
}

void remove_log_file(const std::string& path) {
  auto& sinks = spdlog::default_logger()->sinks();
  for (auto it = sinks.begin(); it != sinks.end();) {
    auto file = std::dynamic_pointer_cast<spdlog::sinks::basic_file_sink_mt>(*it);
    if (file && file->filename() == path) {
      file->flush();
      it = sinks.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace mike
