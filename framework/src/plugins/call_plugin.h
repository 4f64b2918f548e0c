#pragma once
// The exception boundary around plugin code (DESIGN.md "Plugins": exceptions
// never cross the boundary unwrapped).
#include <new>
#include <string>

#include "mike/error.h"

namespace mike {

// Runs `call` (code inside a plugin) and rethrows anything it throws as a
// PluginError naming the plugin: "editor 'rome': <message>". The exit code is
// always 4 (plugin error), whatever type the plugin threw (mike::ConfigError,
// mike::Error, std::runtime_error, std::bad_alloc, or a non-std exception):
// the plugin failed, and its message says why. Host code (data loading,
// logging) stays outside the call so its own errors keep their exit codes.
template <class F>
auto call_plugin(const std::string& label, F&& call) -> decltype(call()) {
  const std::string prefix = label + ": ";
  try {
    return call();
  } catch (const PluginError& e) {
    // Already reported at an inner boundary with this plugin's name: keep it.
    const std::string message = e.what();
    throw PluginError(message.rfind(prefix, 0) == 0 ? message : prefix + message);
  } catch (const std::bad_alloc&) {
    throw PluginError(prefix + "out of memory (std::bad_alloc); use a smaller model, batch or data.limit");
  } catch (const std::exception& e) {
    throw PluginError(prefix + e.what());
  } catch (...) {
    throw PluginError(prefix + "threw an exception that is not a std::exception");
  }
}

}  // namespace mike
