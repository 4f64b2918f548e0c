#include "sweep/sweep_plan.h"

#include <fnmatch.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include "config/override.h"
#include "mike/error.h"

namespace mike {
namespace {

std::string trim(const std::string& text) {
  std::size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  std::size_t end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

bool starts_with(const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; }

// "name(a, b)" -> {"a", "b"} when `text` is a call of `name`.
bool parse_call(const std::string& text, const char* name, std::vector<std::string>& arguments) {
  std::string prefix = std::string(name) + "(";
  if (!starts_with(text, prefix.c_str()) || text.back() != ')') return false;
  arguments.clear();
  for (const std::string& part : split_top_level(text.substr(prefix.size(), text.size() - prefix.size() - 1)))
    arguments.push_back(trim(part));
  return true;
}

bool parse_integer(const std::string& text, long long& value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

bool parse_number(const std::string& text, double& value) {
  if (text.empty()) return false;
  char* end = nullptr;
  value = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && std::isfinite(value);
}

std::string format_float(double value) {
  // 12 significant digits hide binary noise (0.1 * 3 -> 0.3) and keep floats
  // floats for YAML (a trailing ".0" where %g would print an integer).
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.12g", value);
  std::string text = buffer;
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
  return text;
}

// How many values an axis may have and what to do with more.
struct ValueBound {
  std::size_t max_values = kDefaultMaxJobs;
  bool truncate = false;  // keep the first max_values (first_job_overrides) instead of refusing
};

std::string limit_hint(std::size_t max_jobs) {
  return "the sweep job limit is " + std::to_string(max_jobs) + " (sweep.max_jobs); sweep fewer values, or raise " +
         "the limit with ++sweep.max_jobs=N or --max-jobs N (at most " + std::to_string(kMaxJobsCeiling) + ")";
}

std::string count_text(double count) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.0f", count);
  return buffer;
}

// Python's range over 64-bit integers, counted in 128 bits so that no step
// overflows: range(9223372036854775806, 9223372036854775807, 2) has one value.
std::vector<std::string> expand_integer_range(const long long (&ints)[3], const std::string& where,
                                              const ValueBound& bound) {
  using Wide = __int128;
  const Wide start = ints[0], stop = ints[1], step = ints[2];
  const Wide span = step > 0 ? stop - start : start - stop;
  const Wide magnitude = step > 0 ? step : -step;
  Wide count = span <= 0 ? 0 : (span + magnitude - 1) / magnitude;
  if (count > static_cast<Wide>(bound.max_values)) {
    if (!bound.truncate)
      throw ConfigError(where + ": range() has " + std::to_string(static_cast<unsigned long long>(count)) +
                        " values; " + limit_hint(bound.max_values));
    count = static_cast<Wide>(bound.max_values);
  }
  std::vector<std::string> values;
  values.reserve(static_cast<std::size_t>(count));
  for (Wide i = 0; i < count; ++i) values.push_back(std::to_string(static_cast<long long>(start + i * step)));
  return values;
}

std::vector<std::string> expand_range(const std::vector<std::string>& arguments, const std::string& where,
                                      const ValueBound& bound) {
  const std::string usage = "; write range(start, stop[, step]), e.g. range(0, 10, 2) (stop excluded)";
  if (arguments.size() < 2 || arguments.size() > 3)
    throw ConfigError(where + ": range() takes 2 or 3 arguments" + usage);
  long long ints[3] = {0, 0, 1};
  bool all_int = true;
  for (std::size_t i = 0; i < arguments.size(); ++i) all_int = all_int && parse_integer(arguments[i], ints[i]);
  if (all_int) {
    if (ints[2] == 0) throw ConfigError(where + ": range() step must not be 0" + usage);
    return expand_integer_range(ints, where, bound);
  }
  double numbers[3] = {0, 0, 1};
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    if (!parse_number(arguments[i], numbers[i]))
      throw ConfigError(where + ": range() argument '" + arguments[i] + "' is not a number" + usage);
    // Beyond 64-bit integers a float range cannot even be counted exactly.
    if (std::fabs(numbers[i]) >= 9.2e18)
      throw ConfigError(where + ": range() argument '" + arguments[i] +
                        "' is out of range; range() bounds and steps must lie within +-9.2e18 (64-bit integers)");
  }
  if (numbers[2] == 0) throw ConfigError(where + ": range() step must not be 0" + usage);
  const double span = (numbers[1] - numbers[0]) / numbers[2];
  // Tolerance so range(0, 0.3, 0.1) has 3 values despite rounding.
  double count = span <= 0 ? 0 : std::ceil(span - 1e-9);
  if (count > static_cast<double>(bound.max_values)) {
    if (!bound.truncate)
      throw ConfigError(where + ": range() has " + count_text(count) + " values; " + limit_hint(bound.max_values));
    count = static_cast<double>(bound.max_values);
  }
  std::vector<std::string> values;
  const auto n = static_cast<std::size_t>(count);
  values.reserve(n);
  for (std::size_t i = 0; i < n; ++i) values.push_back(format_float(numbers[0] + static_cast<double>(i) * numbers[2]));
  return values;
}

// Values of one `key=value` sweep (the text after '=').
std::vector<std::string> expand_values(const std::string& key, const std::string& value, const std::string& where,
                                       const GroupOptionsFn& group_options, const ValueBound& bound) {
  std::vector<std::string> arguments;
  std::vector<std::string> values;
  if (parse_call(value, "range", arguments)) {
    values = expand_range(arguments, where, bound);
  } else if (parse_call(value, "choice", arguments)) {
    if (arguments.size() == 1 && arguments.front().empty())
      throw ConfigError(where + ": choice() lists no values; give at least one, e.g. " + key + "=choice(1,2)");
    values = arguments;
  } else if (parse_call(value, "glob", arguments)) {
    std::vector<std::string> options = group_options ? group_options(key) : std::vector<std::string>{};
    if (options.empty())
      throw ConfigError(where + ": glob() picks options of a config group, but '" + key +
                        "' is not a group with options; use it like editor=glob(ft_*)");
    for (const std::string& option : options) {
      for (const std::string& pattern : arguments) {
        if (fnmatch(pattern.c_str(), option.c_str(), 0) == 0) {
          values.push_back(option);
          break;
        }
      }
    }
    if (values.empty()) {
      std::string available;
      for (const std::string& option : options) available += (available.empty() ? "" : ", ") + option;
      throw ConfigError(where + ": glob() matches no option of group '" + key + "'; options: " + available);
    }
  } else {
    for (const std::string& part : split_top_level(value)) values.push_back(trim(part));
  }
  if (values.empty())
    throw ConfigError(where + " sweeps over no values; give at least one, e.g. " + key + "=1,2");
  if (bound.truncate && values.size() > bound.max_values) values.resize(bound.max_values);
  // An empty item (`seed=1,`, `seed=1,,2`) or the same value twice would make
  // jobs nobody asked for, or the same job twice.
  std::set<std::string> seen;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i].empty())
      throw ConfigError(where + ": value " + std::to_string(i + 1) + " of " + std::to_string(values.size()) +
                        " is empty; remove the stray comma, or write '' for the empty string");
    if (!seen.insert(values[i]).second)
      throw ConfigError(where + ": value '" + values[i] + "' comes twice, which would run the same job twice; " +
                        "list each value once");
  }
  return values;
}

SweepAxis single_key_axis(const std::string& argument, const GroupOptionsFn& group_options, const ValueBound& bound) {
  Override item = parse_override(argument);
  SweepAxis axis;
  axis.keys = {item.key};
  if (item.op == OverrideOp::remove || !is_sweep_value(item.value)) {
    axis.values = {{argument}};
    return axis;
  }
  std::string prefix = argument.substr(0, argument.size() - item.value.size());  // "[+|++|]key="
  for (const std::string& value : expand_values(item.key, item.value, "sweep '" + argument + "'", group_options, bound))
    axis.values.push_back({prefix + value});
  return axis;
}

SweepAxis zip_axes(const std::vector<SweepAxis>& parts, const std::string& where) {
  SweepAxis zipped;
  for (const SweepAxis& part : parts) {
    if (part.values.size() != parts.front().values.size()) {
      std::string sizes;
      for (const SweepAxis& p : parts)
        sizes += (sizes.empty() ? "" : ", ") + p.keys.front() + " has " + std::to_string(p.values.size());
      throw ConfigError(where + ": zipped keys need the same number of values, but " + sizes +
                        "; give each key as many values as the others");
    }
    zipped.keys.push_back(part.keys.front());
  }
  zipped.values.resize(parts.empty() ? 0 : parts.front().values.size());
  for (std::size_t i = 0; i < zipped.values.size(); ++i)
    for (const SweepAxis& part : parts) zipped.values[i].push_back(part.values[i].front());
  return zipped;
}

// A YAML sweep value as override text: "a,b" strings as written, lists item by item.
std::string yaml_values_text(const YAML::Node& node) {
  if (!node.IsSequence()) return node.IsScalar() ? node.Scalar() : YAML::Dump(node);
  std::string text;
  for (const auto& item : node) {
    YAML::Emitter out;
    out << YAML::Flow << item;
    std::string value = item.IsScalar() ? item.Scalar() : std::string(out.c_str());
    if (item.IsScalar() && (item.Tag() == "!" || split_top_level(value).size() > 1)) value = "'" + value + "'";
    text += (text.empty() ? "" : ",") + value;
  }
  // One value still has to read as a sweep axis of one: key=value is fine.
  return text;
}

std::string mark_of(const std::string& origin, const YAML::Node& node) {
  if (node.Mark().line < 0) return origin;
  // The config's origin of `sweep` is already "file:line:column" (of the
  // `sweep` key); the node's own position replaces that one.
  std::string file = origin;
  for (int part = 0; part < 2; ++part) {
    const std::size_t colon = file.rfind(':');
    if (colon == std::string::npos || colon + 1 == file.size() ||
        file.find_first_not_of("0123456789", colon + 1) != std::string::npos) {
      file = origin;
      break;
    }
    file.resize(colon);
  }
  return file + ":" + std::to_string(node.Mark().line + 1) + ":" + std::to_string(node.Mark().column + 1);
}

}  // namespace

SweepPlan::SweepPlan(std::vector<SweepAxis> axes) : axes_(std::move(axes)) {
  strides_.assign(axes_.size(), 1);
  job_count_ = 1;
  // Saturates instead of overflowing: plan_sweep refuses a count over its limit.
  for (std::size_t i = axes_.size(); i-- > 0;) {
    strides_[i] = job_count_;
    if (axes_[i].values.empty()) {
      job_count_ = 0;
    } else if (job_count_ > std::numeric_limits<std::size_t>::max() / axes_[i].values.size()) {
      job_count_ = std::numeric_limits<std::size_t>::max();
    } else {
      job_count_ *= axes_[i].values.size();
    }
  }
}

std::vector<std::string> SweepPlan::job_overrides(std::size_t index) const {
  std::vector<std::string> overrides;
  for (std::size_t i = 0; i < axes_.size(); ++i) {
    const auto& chosen = axes_[i].values[(index / strides_[i]) % axes_[i].values.size()];
    overrides.insert(overrides.end(), chosen.begin(), chosen.end());
  }
  return overrides;
}

void SweepPlan::append_job_line(std::size_t index, std::string& out) const {
  bool first = true;
  for (std::size_t i = 0; i < axes_.size(); ++i) {
    for (const std::string& item : axes_[i].values[(index / strides_[i]) % axes_[i].values.size()]) {
      if (!first) out += ' ';
      out += item;
      first = false;
    }
  }
}

namespace {

SweepAxis parse_argument(const std::string& argument, const GroupOptionsFn& group_options, const ValueBound& bound) {
  std::vector<std::string> parts;
  if (parse_call(argument, "zip", parts)) {
    parts = split_top_level(argument.substr(4, argument.size() - 5), ';');
    std::vector<SweepAxis> axes;
    for (const std::string& part : parts) axes.push_back(single_key_axis(trim(part), group_options, bound));
    return zip_axes(axes, "sweep '" + argument + "'");
  }
  return single_key_axis(argument, group_options, bound);
}

std::string axis_name(const SweepAxis& axis) {
  std::string name;
  for (const std::string& key : axis.keys) name += (name.empty() ? "" : "+") + key;
  return name;
}

// A key set by two command-line arguments of which one sweeps it would give
// each job two values of that key (the later silently winning): refuse it.
void check_keys_once(const std::vector<std::string>& arguments, const std::vector<SweepAxis>& axes) {
  for (std::size_t a = 0; a < axes.size(); ++a)
    for (std::size_t b = a + 1; b < axes.size(); ++b) {
      if (!axes[a].is_sweep() && !axes[b].is_sweep()) continue;
      for (const std::string& key : axes[a].keys)
        for (const std::string& other : axes[b].keys)
          if (key == other)
            throw ConfigError("sweep: key '" + key + "' is set by two arguments, '" + arguments[a] + "' and '" +
                              arguments[b] + "', so every job would get two values of it; give all its values in " +
                              "one argument, e.g. " + key + "=1,2,3,4");
    }
}

// One `key: values` entry of a config's sweep; its errors start with the
// file:line:column of the values, as errors of the rest of a config do.
template <typename Entry>
SweepAxis yaml_axis(const Entry& entry, const std::string& origin, const GroupOptionsFn& group_options,
                    const ValueBound& bound) {
  try {
    return single_key_axis(entry.first.Scalar() + "=" + yaml_values_text(entry.second), group_options, bound);
  } catch (const ConfigError& e) {
    throw ConfigError(mark_of(origin, entry.second) + ": " + e.what());
  }
}

}  // namespace

SweepAxis parse_sweep_argument(const std::string& argument, const GroupOptionsFn& group_options,
                               std::size_t max_values) {
  return parse_argument(argument, group_options, ValueBound{max_values, false});
}

std::vector<SweepAxis> parse_yaml_sweep(const YAML::Node& sweep, const std::string& origin,
                                        const GroupOptionsFn& group_options, std::size_t max_values) {
  const ValueBound bound{max_values, false};
  std::vector<SweepAxis> axes;
  if (!sweep.IsDefined() || sweep.IsNull()) return axes;
  if (!sweep.IsMap())
    throw ConfigError("'sweep' in " + mark_of(origin, sweep) +
                      " must be a map with 'params' (key: values) and/or 'zip' (a list of key: values maps)");
  const YAML::Node params = sweep["params"];
  if (params.IsDefined() && !params.IsNull()) {
    if (!params.IsMap())
      throw ConfigError("'sweep.params' in " + mark_of(origin, params) + " must be a map, e.g. editor.lr: [1e-4, 1e-3]");
    for (const auto& kv : params)
      axes.push_back(yaml_axis(kv, origin, group_options, bound));
  }
  const YAML::Node zips = sweep["zip"];
  if (zips.IsDefined() && !zips.IsNull()) {
    if (!zips.IsSequence())
      throw ConfigError("'sweep.zip' in " + mark_of(origin, zips) +
                        " must be a list of maps, e.g.\n  zip:\n    - {editor.layer: [3, 5], editor.lr: [1e-3, 1e-4]}");
    for (const auto& group : zips) {
      if (!group.IsMap())
        throw ConfigError("an entry of 'sweep.zip' in " + mark_of(origin, group) + " must be a map of key: values");
      std::vector<SweepAxis> parts;
      for (const auto& kv : group) parts.push_back(yaml_axis(kv, origin, group_options, bound));
      axes.push_back(zip_axes(parts, "'sweep.zip' in " + mark_of(origin, group)));
    }
  }
  return axes;
}

SweepPlan plan_sweep(const std::vector<std::string>& arguments, const YAML::Node& yaml_sweep,
                     const std::string& yaml_origin, const GroupOptionsFn& group_options, std::size_t max_jobs) {
  std::vector<SweepAxis> command_line;
  for (const std::string& argument : arguments)
    command_line.push_back(parse_sweep_argument(argument, group_options, max_jobs));
  check_keys_once(arguments, command_line);
  std::vector<SweepAxis> axes;
  for (SweepAxis& axis : parse_yaml_sweep(yaml_sweep, yaml_origin, group_options, max_jobs)) {
    bool replaced = false;
    for (const SweepAxis& cli : command_line)
      for (const std::string& key : cli.keys)
        for (const std::string& yaml_key : axis.keys) replaced = replaced || key == yaml_key;
    if (!replaced) axes.push_back(std::move(axis));
  }
  for (SweepAxis& axis : command_line) axes.push_back(std::move(axis));
  // Counted from the axis sizes, before any job is expanded.
  SweepPlan plan(std::move(axes));
  if (plan.job_count() > max_jobs) {
    std::string sizes;
    for (const SweepAxis& axis : plan.axes())
      if (axis.is_sweep())
        sizes += (sizes.empty() ? "" : " x ") + axis_name(axis) + ": " + std::to_string(axis.values.size());
    const bool saturated = plan.job_count() == std::numeric_limits<std::size_t>::max();
    throw ConfigError("the sweep has " + (saturated ? "more than " : std::string()) + std::to_string(plan.job_count()) +
                      " jobs (" + sizes + " values); " + limit_hint(max_jobs));
  }
  return plan;
}

std::vector<std::string> first_job_overrides(const std::vector<std::string>& arguments,
                                             const GroupOptionsFn& group_options) {
  std::vector<std::string> overrides;
  std::vector<SweepAxis> axes;
  for (const std::string& argument : arguments) {
    axes.push_back(parse_argument(argument, group_options, ValueBound{1, true}));
    const auto& first = axes.back().values.front();
    overrides.insert(overrides.end(), first.begin(), first.end());
  }
  return overrides;
}

}  // namespace mike
