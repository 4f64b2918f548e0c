// Sweep expansion as `mike run -m` does it: the first part of the input is a
// config's `sweep` node (YAML, loaded like a config file), each further
// NUL-separated part one command-line argument. The plan is built under the
// default job limit and every job's overrides are expanded, as --dry-run
// prints them (capped, so one execution stays fast).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "config/config_impl.h"
#include "input_parts.h"
#include "mike/error.h"
#include "sweep/sweep_plan.h"

namespace {

constexpr std::size_t kMaxArguments = 8;
constexpr std::size_t kJobsExpanded = 64;

std::vector<std::string> group_options(const std::string& group) {
  if (group == "editor") return {"ft_llm", "ike", "rome"};
  if (group == "model") return {"llava_tiny"};
  return {};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = mike::fuzz::split_input(data, size, kMaxArguments + 1);
  std::vector<std::string> arguments(parts.begin() + 1, parts.end());
  try {
    const YAML::Node sweep = mike::load_yaml_text(std::string(parts[0]), "sweep.yaml");
    (void)mike::first_job_overrides(arguments, group_options);
    mike::SweepPlan plan = mike::plan_sweep(arguments, sweep, "sweep.yaml", group_options);
    std::string line;
    for (std::size_t job = 0; job < std::min(plan.job_count(), kJobsExpanded); ++job) {
      plan.append_job_line(job, line);
      (void)plan.job_overrides(job);
    }
  } catch (const mike::Error&) {
  }
  return 0;
}
