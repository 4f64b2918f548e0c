#include "report/job_dirs.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "mike/error.h"

namespace fs = std::filesystem;

namespace mike {

namespace {

bool is_number(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::vector<std::pair<std::string, std::string>> parse_overrides_file(const fs::path& file) {
  std::vector<std::pair<std::string, std::string>> out;
  YAML::Node node = YAML::LoadFile(file.string());
  auto add = [&](std::string text) {
    while (!text.empty() && (text[0] == '+' || text[0] == '~')) text.erase(0, 1);
    auto eq = text.find('=');
    if (eq == std::string::npos) return;
    out.emplace_back(text.substr(0, eq), text.substr(eq + 1));
  };
  if (node.IsSequence())
    for (const auto& item : node) add(item.as<std::string>());
  else if (node.IsMap())
    for (const auto& kv : node) {
      if (kv.second.IsSequence())
        for (const auto& item : kv.second) add(item.as<std::string>());
      else if (kv.second.IsScalar())
        out.emplace_back(kv.first.as<std::string>(), kv.second.as<std::string>());
    }
  return out;
}

}  // namespace

std::vector<fs::path> find_job_dirs(const fs::path& dir) {
  std::vector<fs::path> jobs;
  if (fs::exists(dir / "summary.json")) return {dir};
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.path().filename() == "summary.json") jobs.push_back(entry.path().parent_path());
  std::sort(jobs.begin(), jobs.end(), [](const fs::path& a, const fs::path& b) {
    // Job dirs are numbered: compare numerically where both are numbers
    // (by length first, so that no name is too long to compare).
    const std::string x = a.filename().string(), y = b.filename().string();
    if (is_number(x) && is_number(y) && a.parent_path() == b.parent_path())
      return x.size() != y.size() ? x.size() < y.size() : x < y;
    return a < b;
  });
  return jobs;
}

std::vector<std::pair<std::string, std::string>> read_overrides(const fs::path& job_dir, const std::string& command) {
  const fs::path file = job_dir / "overrides.yaml";
  if (!fs::exists(file)) return {};
  try {
    return parse_overrides_file(file);
  } catch (const YAML::Exception& e) {
    std::string where = e.mark.is_null() ? std::string()
                                         : ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1);
    throw DataError(command + ": " + file.string() + where + ": not the overrides list `mike run` writes (" + e.msg +
                    "); fix: restore it as a YAML list of key=value strings (e.g. `- editor.lr=0.5`), or move it "
                    "aside: the job is then shown without its overrides");
  }
}

}  // namespace mike
