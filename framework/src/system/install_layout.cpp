#include "system/install_layout.h"

#include <algorithm>
#include <system_error>

namespace fs = std::filesystem;

namespace mike {

fs::path executable_path() {
  std::error_code error;
  fs::path exe = fs::read_symlink("/proc/self/exe", error);
  return error ? fs::path() : exe;
}

fs::path install_prefix() { return executable_path().parent_path().parent_path(); }

fs::path installed_config_dir() { return install_prefix() / "share" / "mike" / "configs"; }

bool executable_is_in_build_tree_of(const fs::path& path) {
  const fs::path tree = install_prefix();
  std::error_code error;
  if (tree.empty() || !fs::is_regular_file(tree / "CMakeCache.txt", error)) return false;
  const fs::path inside = fs::weakly_canonical(path, error);
  if (error) return false;
  const fs::path root = fs::weakly_canonical(tree, error);
  if (error) return false;
  auto [root_end, unused] = std::mismatch(root.begin(), root.end(), inside.begin(), inside.end());
  return root_end == root.end();
}

}  // namespace mike
