#pragma once
// The exception boundary around plugin code (DESIGN.md "Plugins": exceptions
// never cross the boundary unwrapped).
#include <new>
#include <string>

#include "launch/interrupt.h"
#include "mike/error.h"

namespace mike {

// Runs `call` (code inside a plugin) and rethrows anything it throws with the
// plugin's name in front: "editor 'rome': <message>". An SDK error that
// classifies the user's input — ConfigError (2), DataError (3), ModelError
// (5: a checkpoint the model plugin refused) — keeps its exit code, so a bad
// checkpoint is exit 5 whether the host or the plugin found it. Anything else
// (PluginError, a plain mike::Error, std::runtime_error, std::bad_alloc, a
// non-std exception) is a PluginError, exit 4: the plugin failed, and its
// message says why. Host code (data loading, logging) stays outside the call
// so its own errors keep their exit codes. A JobInterrupted (the host's own
// progress callback saw Ctrl-C / SIGTERM while the plugin ran, e.g. in a
// fit) passes through unchanged: the job is interrupted, not failed.
template <class F>
auto call_plugin(const std::string& label, F&& call) -> decltype(call()) {
  const std::string prefix = label + ": ";
  // Already reported at an inner boundary with this plugin's name: keep it.
  auto labelled = [&](const std::string& message) {
    return message.rfind(prefix, 0) == 0 ? message : prefix + message;
  };
  try {
    return call();
  } catch (const JobInterrupted&) {
    throw;
  } catch (const PluginError& e) {
    throw PluginError(labelled(e.what()));
  } catch (const ConfigError& e) {
    throw ConfigError(labelled(e.what()));
  } catch (const DataError& e) {
    throw DataError(labelled(e.what()));
  } catch (const ModelError& e) {
    throw ModelError(labelled(e.what()));
  } catch (const std::bad_alloc&) {
    throw PluginError(prefix + "out of memory (std::bad_alloc); use a smaller model, batch or data.limit");
  } catch (const std::exception& e) {
    throw PluginError(prefix + e.what());
  } catch (...) {
    throw PluginError(prefix + "threw an exception that is not a std::exception");
  }
}

}  // namespace mike
