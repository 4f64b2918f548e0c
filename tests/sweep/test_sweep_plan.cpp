// Sweep expansion: cartesian order (last axis fastest), range/choice/glob,
// zipped axes, sweeps declared in YAML, and their errors.
#include <doctest/doctest.h>

#include <functional>

#include "config/config_impl.h"
#include "mike/error.h"
#include "sweep/sweep_plan.h"

using mike::SweepPlan;
using Jobs = std::vector<std::vector<std::string>>;

namespace {

std::vector<std::string> editor_options(const std::string& group) {
  if (group == "editor") return {"ft_llm", "ft_vis", "ike", "rome"};
  return {};
}

SweepPlan plan(const std::vector<std::string>& arguments, const std::string& yaml = "") {
  YAML::Node sweep = yaml.empty() ? YAML::Node() : YAML::Load(yaml);
  return mike::plan_sweep(arguments, sweep, "exp.yaml", editor_options);
}

Jobs all_jobs(const SweepPlan& p) {
  Jobs jobs;
  for (std::size_t i = 0; i < p.job_count(); ++i) jobs.push_back(p.job_overrides(i));
  return jobs;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const mike::ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("cartesian product keeps argument order and varies the last axis fastest") {
  SweepPlan p = plan({"editor=ft_llm,rome", "seed=3", "editor.lr=1e-4,1e-3"});
  CHECK(p.job_count() == 4);
  CHECK(all_jobs(p) == Jobs{{"editor=ft_llm", "seed=3", "editor.lr=1e-4"},
                            {"editor=ft_llm", "seed=3", "editor.lr=1e-3"},
                            {"editor=rome", "seed=3", "editor.lr=1e-4"},
                            {"editor=rome", "seed=3", "editor.lr=1e-3"}});
  std::string line;
  p.append_job_line(3, line);
  CHECK(line == "editor=rome seed=3 editor.lr=1e-3");
}

TEST_CASE("range, choice and glob expand to their values") {
  CHECK(all_jobs(plan({"seed=range(0,3)"})) == Jobs{{"seed=0"}, {"seed=1"}, {"seed=2"}});
  CHECK(all_jobs(plan({"seed=range(10, 0, -4)"})) == Jobs{{"seed=10"}, {"seed=6"}, {"seed=2"}});
  CHECK(all_jobs(plan({"x=range(0,0.3,0.1)"})) == Jobs{{"x=0.0"}, {"x=0.1"}, {"x=0.2"}});
  CHECK(all_jobs(plan({"+x=choice(a, b)"})) == Jobs{{"+x=a"}, {"+x=b"}});
  CHECK(all_jobs(plan({"editor=glob(ft_*)"})) == Jobs{{"editor=ft_llm"}, {"editor=ft_vis"}});
  CHECK(all_jobs(plan({"editor=glob(ike,r*)"})) == Jobs{{"editor=ike"}, {"editor=rome"}});
  CHECK(plan({"a=range(0,100)", "b=range(0,100)"}).job_count() == 10000);
  // Quotes and brackets keep commas inside one value.
  CHECK(all_jobs(plan({"x='a,b',c", "y=[1,2],[3]"})) ==
        Jobs{{"x='a,b'", "y=[1,2]"}, {"x='a,b'", "y=[3]"}, {"x=c", "y=[1,2]"}, {"x=c", "y=[3]"}});
}

TEST_CASE("zip() sets several keys together") {
  SweepPlan p = plan({"zip(editor.layer=3,5,7; editor.lr=1e-3,1e-4,1e-5)", "seed=0,1"});
  CHECK(p.job_count() == 6);
  CHECK(p.job_overrides(0) == std::vector<std::string>{"editor.layer=3", "editor.lr=1e-3", "seed=0"});
  CHECK(p.job_overrides(5) == std::vector<std::string>{"editor.layer=7", "editor.lr=1e-5", "seed=1"});
  CHECK(error_of([] { plan({"zip(a=1,2,3; b=1,2)"}); }) ==
        "sweep 'zip(a=1,2,3; b=1,2)': zipped keys need the same number of values, but a has 3, b has 2; give each "
        "key as many values as the others");
}

TEST_CASE("sweeps declared in YAML; a command-line axis on the same key replaces the YAML one") {
  std::string yaml =
      "params:\n"
      "  editor: ft_llm,rome\n"
      "  editor.lr: [1e-4, 1e-3]\n"
      "zip:\n"
      "  - {editor.layer: [3, 5], editor.steps: [10, 20]}\n";
  SweepPlan p = plan({}, yaml);
  CHECK(p.job_count() == 8);
  CHECK(p.job_overrides(0) ==
        std::vector<std::string>{"editor=ft_llm", "editor.lr=1e-4", "editor.layer=3", "editor.steps=10"});
  CHECK(p.job_overrides(7) ==
        std::vector<std::string>{"editor=rome", "editor.lr=1e-3", "editor.layer=5", "editor.steps=20"});
  SweepPlan replaced = plan({"editor.lr=0.5", "seed=1,2"}, yaml);
  CHECK(replaced.job_count() == 8);
  CHECK(replaced.job_overrides(0) ==
        std::vector<std::string>{"editor=ft_llm", "editor.layer=3", "editor.steps=10", "editor.lr=0.5", "seed=1"});
  CHECK(error_of([] { plan({}, "params: [1]\n"); }) ==
        "'sweep.params' in exp.yaml:1:9 must be a map, e.g. editor.lr: [1e-4, 1e-3]");
  // A bad entry names the file, line and column of its values.
  CHECK(error_of([] { plan({}, "params:\n  editor.lr: [1e-4]\n  seed: \"1,\"\n"); }) ==
        "exp.yaml:3:9: sweep 'seed=1,': value 2 of 2 is empty; remove the stray comma, or write '' for the empty "
        "string");
  CHECK(error_of([] { plan({}, "zip:\n  - {editor.lr: [1, 2], seed: \"1,\"}\n"); }).rfind("exp.yaml:2:31: sweep 'seed=1,'", 0) ==
        0);
  // An origin that already ends in a position (a config key's) gets the node's instead.
  YAML::Node sweep = YAML::Load("params: [1]\n");
  CHECK(error_of([&] { mike::plan_sweep({}, sweep, "configs/x.yaml:16:3", editor_options); }) ==
        "'sweep.params' in configs/x.yaml:1:9 must be a map, e.g. editor.lr: [1e-4, 1e-3]");
}

TEST_CASE("bad sweeps are clear errors") {
  CHECK(error_of([] { plan({"seed=range(1)"}); }) ==
        "sweep 'seed=range(1)': range() takes 2 or 3 arguments; write range(start, stop[, step]), e.g. range(0, 10, "
        "2) (stop excluded)");
  CHECK(error_of([] { plan({"seed=range(0,a)"}); }) ==
        "sweep 'seed=range(0,a)': range() argument 'a' is not a number; write range(start, stop[, step]), e.g. "
        "range(0, 10, 2) (stop excluded)");
  CHECK(error_of([] { plan({"seed=range(0,3,0)"}); }).find("range() step must not be 0") != std::string::npos);
  CHECK(error_of([] { plan({"editor=glob(x*)"}); }) ==
        "sweep 'editor=glob(x*)': glob() matches no option of group 'editor'; options: ft_llm, ft_vis, ike, rome");
  CHECK(error_of([] { plan({"seed=glob(*)"}); }) ==
        "sweep 'seed=glob(*)': glob() picks options of a config group, but 'seed' is not a group with options; use "
        "it like editor=glob(ft_*)");
  CHECK(error_of([] { plan({"seed=range(3,3)"}); }) ==
        "sweep 'seed=range(3,3)' sweeps over no values; give at least one, e.g. seed=1,2");
}
