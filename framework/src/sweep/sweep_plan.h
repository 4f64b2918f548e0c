#pragma once
// Expands a multirun (`mike run -m ...`) into its jobs (README "Configs,
// overrides and sweeps"). Each command-line override is one axis:
//   editor=ft_llm,rome            two values
//   editor.lr=range(1,4)          1,2,3 (Python range: stop excluded; floats allowed)
//   seed=choice(0,1)              same as 0,1
//   editor=glob(ft_*)             every option of group `editor` matching the pattern
//   zip(editor.layer=3,5,7; editor.lr=1e-3,1e-4,1e-5)
//                                 one axis that sets both keys together (3 values)
//   seed=3                        a fixed override (an axis of one value)
// plus axes declared in the config under `sweep.params` (key: "a,b" or a YAML
// list) and `sweep.zip` (a list of {key: [values]} maps); a command-line axis
// on the same key replaces the YAML one. Jobs are the cartesian product,
// the last axis varying fastest.
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace mike {

struct SweepAxis {
  std::vector<std::string> keys;                 // the key(s) it sets (several for zip)
  std::vector<std::vector<std::string>> values;  // per alternative, the overrides it adds
  bool is_sweep() const { return values.size() > 1; }
};

class SweepPlan {
 public:
  SweepPlan() = default;
  explicit SweepPlan(std::vector<SweepAxis> axes);
  const std::vector<SweepAxis>& axes() const { return axes_; }
  std::size_t job_count() const { return job_count_; }
  // The overrides of job `index` (0-based), in axis order.
  std::vector<std::string> job_overrides(std::size_t index) const;
  // As job_overrides, joined by spaces (the dry-run line), appended to `out`.
  void append_job_line(std::size_t index, std::string& out) const;

 private:
  std::vector<SweepAxis> axes_;
  std::vector<std::size_t> strides_;
  std::size_t job_count_ = 1;
};

// Jobs a sweep may have unless `sweep.max_jobs` (or --max-jobs) says
// otherwise, and the most that may be asked for. Sizes are checked before
// anything is expanded, so a typo like range(0,1e18) is an error, not a
// machine out of memory.
constexpr std::size_t kDefaultMaxJobs = 10000;
constexpr std::size_t kMaxJobsCeiling = 1000000;

// Options of a config group, sorted (for glob()).
using GroupOptionsFn = std::function<std::vector<std::string>(const std::string& group)>;

// The axes of one command-line argument (throws ConfigError on bad syntax,
// an empty or repeated value, or more than `max_values` values).
SweepAxis parse_sweep_argument(const std::string& argument, const GroupOptionsFn& group_options,
                               std::size_t max_values = kDefaultMaxJobs);
// The axes declared in a config's `sweep` node (may be undefined/null).
std::vector<SweepAxis> parse_yaml_sweep(const YAML::Node& sweep, const std::string& origin,
                                        const GroupOptionsFn& group_options, std::size_t max_values = kDefaultMaxJobs);
// All axes: YAML ones first (unless a command-line axis sets the same key), then the arguments.
// Throws ConfigError when the jobs would be more than `max_jobs`, or a key is
// swept by two arguments.
SweepPlan plan_sweep(const std::vector<std::string>& arguments, const YAML::Node& yaml_sweep,
                     const std::string& yaml_origin, const GroupOptionsFn& group_options,
                     std::size_t max_jobs = kDefaultMaxJobs);
// The overrides of the first job of the command-line arguments alone, without
// expanding any axis beyond its first value (to compose the config that
// holds the sweep's limit and YAML axes).
std::vector<std::string> first_job_overrides(const std::vector<std::string>& arguments,
                                             const GroupOptionsFn& group_options);

}  // namespace mike
