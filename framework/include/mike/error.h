#pragma once
// Error types every part of mike throws. Each carries the process exit code
// the CLI uses, so a bad input anywhere ends with one message and a
// predictable status: 2 usage/config, 3 data, 4 plugin, 5 model/checkpoint,
// 1 anything else.
#include <stdexcept>
#include <string>

#include "mike/export.h"

namespace mike {

class MIKE_API Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, int exit_code = 1)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const noexcept { return exit_code_; }

 private:
  int exit_code_;
};

// Wrong command line: unknown subcommand/option, bad argument.
class MIKE_API UsageError : public Error {
 public:
  explicit UsageError(const std::string& m) : Error(m, 2) {}
};

// A config value is missing, mistyped or malformed; message names key path and origin.
class MIKE_API ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& m) : Error(m, 2) {}
};

// A dataset record, image or file is invalid; message names file, line/record, field.
class MIKE_API DataError : public Error {
 public:
  explicit DataError(const std::string& m) : Error(m, 3) {}
};

// A plugin was refused or failed at its boundary; message names the plugin.
class MIKE_API PluginError : public Error {
 public:
  explicit PluginError(const std::string& m) : Error(m, 4) {}
};

// A checkpoint, tokenizer or model file is invalid.
class MIKE_API ModelError : public Error {
 public:
  explicit ModelError(const std::string& m) : Error(m, 5) {}
};

}  // namespace mike
