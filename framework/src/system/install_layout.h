#pragma once
// Where the running `mike` and its installation are. Everything is found from
// the executable's own path (/proc/self/exe), never from a path compiled in,
// so an installed tree can be moved and an installed mike never reads the
// build tree it was built in.
//
//   <prefix>/bin/mike                 the executable
//   <prefix>/share/mike/configs       the installed config groups
//   <prefix>/<libdir>/mike/plugins    the installed plugins
#include <filesystem>
#include <optional>

namespace mike {

// The running executable, symlinks resolved.
std::filesystem::path executable_path();
// The folder above the executable's folder (<prefix> for <prefix>/bin/mike).
std::filesystem::path install_prefix();
// <prefix>/share/mike/configs; it may not exist (a build tree has none).
std::filesystem::path installed_config_dir();
// True when the running executable lives in a CMake build tree (a folder
// holding CMakeCache.txt, above the executable's bin/) that contains `path`:
// then `path` (the build tree's plugin folder) belongs to this executable.
bool executable_is_in_build_tree_of(const std::filesystem::path& path);

}  // namespace mike
