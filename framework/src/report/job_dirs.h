#pragma once
// The jobs below a run or sweep dir, as `mike report` and `mike human`
// find them, and the overrides each job ran with.
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace mike {

// `dir` itself when it holds summary.json (a run dir), else every folder
// below it that does (a sweep's jobs), numbered job dirs in numeric order.
std::vector<std::filesystem::path> find_job_dirs(const std::filesystem::path& dir);

// The (key, value) pairs of `job_dir`/overrides.yaml, in order (none when it
// is absent). It is what `mike run` wrote: a list of "key=value" strings (or
// a map of them); anything else is a DataError naming the file, the
// position and the fix, prefixed with `command`.
std::vector<std::pair<std::string, std::string>> read_overrides(const std::filesystem::path& job_dir,
                                                                const std::string& command);

}  // namespace mike
