// Hydra-style composition: defaults list, group options, plugin defaults
// merged under a group, every override form, interpolation, and the errors
// (each asserted word for word, with the origin of the offending value).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>

#include "config/composer.h"
#include "mike/error.h"
#include "process.h"

using mike::ComposeRequest;
using mike::Config;

namespace {

// A small config tree: config.yaml + groups editor/ (ft_llm, rome), model/ (xs).
std::string make_config_dir() {
  std::string dir = mike::test::make_temp_dir("compose");
  mike::test::write_file(dir + "/config.yaml",
                         "defaults:\n"
                         "  - model: xs\n"
                         "  - editor: ft_llm\n"
                         "  - _self_\n"
                         "seed: 0\n"
                         "name: run-${editor.lr}\n"
                         "editor:\n"
                         "  steps: 10\n");
  mike::test::write_file(dir + "/editor/ft_llm.yaml", "plugin: ft\nlr: 1e-4\nlayers: [3]\nsteps: 5\n");
  mike::test::write_file(dir + "/editor/rome.yaml", "plugin: rome\nlayer: 5\nlr: fast\n");
  mike::test::write_file(dir + "/model/xs.yaml", "plugin: toy\ndim: 64\nhidden: ${model.dim}\n");
  mike::test::write_file(dir + "/launcher/local.yaml", "jobs: 1\n");
  return dir;
}

Config compose(const std::string& dir, std::vector<std::string> overrides,
               mike::PluginDefaultsLookup plugins = nullptr) {
  ComposeRequest request;
  request.config_dir = dir;
  request.overrides = std::move(overrides);
  request.plugin_defaults = std::move(plugins);
  return mike::compose_config(request).config;
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

TEST_CASE("defaults list puts each group option under its group and _self_ wins where listed") {
  std::string dir = make_config_dir();
  ComposeRequest request;
  request.config_dir = dir;
  auto composed = mike::compose_config(request);
  const Config& c = composed.config;
  CHECK(c.get<std::string>("editor.plugin") == "ft");
  CHECK(c.get<double>("editor.lr") == doctest::Approx(1e-4));
  CHECK(c.get<int>("editor.steps") == 10);  // config.yaml (_self_ last) overrides the group file
  CHECK(c.get<int>("model.dim") == 64);
  CHECK(c.get<int>("model.hidden") == 64);  // ${model.dim} keeps its type
  CHECK(c.get<std::string>("name") == "run-1e-4");
  CHECK(c.keys() == std::vector<std::string>{"model", "editor", "seed", "name"});
  REQUIRE(composed.choices.size() == 2);
  CHECK(composed.choices[1] == std::pair<std::string, std::string>{"editor", "ft_llm"});
  CHECK(c.origin("editor.lr") == dir + "/editor/ft_llm.yaml:2:5");
  CHECK(c.origin("editor.steps") == dir + "/config.yaml:8:10");
}

TEST_CASE("_self_ first lets group files override the primary config") {
  std::string dir = make_config_dir();
  mike::test::write_file(dir + "/config.yaml", "defaults:\n  - _self_\n  - editor: ft_llm\neditor:\n  steps: 10\n");
  CHECK(compose(dir, {}).get<int>("editor.steps") == 5);
}

TEST_CASE("group overrides pick, add and drop options") {
  std::string dir = make_config_dir();
  Config rome = compose(dir, {"editor=rome"});
  CHECK(rome.get<int>("editor.layer") == 5);
  CHECK_FALSE(rome.has("editor.layers"));
  CHECK(rome.get<int>("editor.steps") == 10);
  Config added = compose(dir, {"+launcher=local"});
  CHECK(added.get<int>("launcher.jobs") == 1);
  Config dropped = compose(dir, {"~model", "~name"});
  CHECK_FALSE(dropped.has("model"));
  CHECK_FALSE(dropped.has("name"));
}

TEST_CASE("value overrides are typed by YAML rules and name their origin") {
  std::string dir = make_config_dir();
  Config c = compose(dir, {"editor.lr=1e-3", "seed=7", "+flag=true", "+nothing=null", "editor.layers=[1, 2]",
                           "+opts={a: 1}", "++seed=8", "++new.deep.key=x", "+empty=", "+quoted='1,2'", "~editor.steps"});
  CHECK(c.get<double>("editor.lr") == doctest::Approx(1e-3));
  CHECK(c.get<std::string>("name") == "run-1e-3");  // interpolation sees overrides
  CHECK(c.get<int>("seed") == 8);
  CHECK(c.get<bool>("flag") == true);
  CHECK(c.get_or<int>("nothing", -1) == -1);
  CHECK(c.get<std::vector<int>>("editor.layers") == std::vector<int>{1, 2});
  CHECK(c.get<int>("opts.a") == 1);
  CHECK(c.get<std::string>("new.deep.key") == "x");
  CHECK(c.get<std::string>("empty") == "");
  CHECK(c.get<std::string>("quoted") == "1,2");
  CHECK_FALSE(c.has("editor.steps"));
  CHECK(c.origin("seed") == "override '++seed=8'");
  CHECK(c.origin("new.deep.key") == "override '++new.deep.key=x'");
  CHECK(error_of([&] { c.get<int>("new.deep.key"); }) ==
        "config key 'new.deep.key' expects an integer but got string \"x\" (from override '++new.deep.key=x'); "
        "set it like new.deep.key=3");
}

TEST_CASE("a wrong type names the group file it came from after composition") {
  std::string dir = make_config_dir();
  Config c = compose(dir, {"editor=rome"});
  CHECK(error_of([&] { c.sub("editor").get<double>("lr"); }) ==
        "config key 'editor.lr' expects a float but got string \"fast\" (from " + dir +
            "/editor/rome.yaml:3:5); set it like editor.lr=1e-4");
}

TEST_CASE("a plugin's default config goes under its group; the group file and overrides win") {
  std::string dir = make_config_dir();
  std::vector<std::pair<std::string, std::string>> asked;
  auto plugins = [&](const std::string& group, const std::string& name) -> std::optional<mike::PluginDefaults> {
    asked.emplace_back(group, name);
    if (name != "ft") return std::nullopt;  // not found: composition goes on without it
    return mike::PluginDefaults{"lr: 0.5\nmomentum: 0.9\nclip: 1.0\n", "plugin editor 'ft' defaults"};
  };
  Config c = compose(dir, {"editor.clip=2.0"}, plugins);
  CHECK(c.get<double>("editor.momentum") == doctest::Approx(0.9));
  CHECK(c.get<double>("editor.lr") == doctest::Approx(1e-4));
  CHECK(c.get<double>("editor.clip") == doctest::Approx(2.0));
  CHECK(c.origin("editor.momentum") == "plugin editor 'ft' defaults:2:11");
  CHECK(asked == std::vector<std::pair<std::string, std::string>>{{"model", "toy"}, {"editor", "ft"}});
}

TEST_CASE("environment interpolation with and without a default") {
  std::string dir = make_config_dir();
  ::setenv("MIKE_TEST_COMPOSE_VAR", "from-env", 1);
  ::unsetenv("MIKE_TEST_COMPOSE_UNSET");
  Config c = compose(dir, {"+a=${oc.env:MIKE_TEST_COMPOSE_VAR}", "+b=${oc.env:MIKE_TEST_COMPOSE_UNSET,42}",
                           "+c=${env:MIKE_TEST_COMPOSE_UNSET,}", "+d=\\${seed}"});
  CHECK(c.get<std::string>("a") == "from-env");
  CHECK(c.get<int>("b") == 42);
  CHECK(c.get<std::string>("c") == "");
  CHECK(c.get<std::string>("d") == "${seed}");
  CHECK(error_of([&] { compose(dir, {"+e=${oc.env:MIKE_TEST_COMPOSE_UNSET}"}); }) ==
        "config key 'e' reads environment variable MIKE_TEST_COMPOSE_UNSET (\"${oc.env:MIKE_TEST_COMPOSE_UNSET}\"), "
        "which is not set (from override '+e=${oc.env:MIKE_TEST_COMPOSE_UNSET}'); set it or give a default: "
        "${oc.env:MIKE_TEST_COMPOSE_UNSET,default}");
}

TEST_CASE("errors: unknown group option lists the available ones") {
  std::string dir = make_config_dir();
  CHECK(error_of([&] { compose(dir, {"editor=romee"}); }) ==
        "unknown option 'romee' for config group 'editor' (from override 'editor=romee'); available options: "
        "ft_llm, rome; pick one of them or add " + dir + "/editor/romee.yaml");
  mike::test::write_file(dir + "/config.yaml", "defaults:\n  - editor: nope\n");
  CHECK(error_of([&] { compose(dir, {}); }) ==
        "unknown option 'nope' for config group 'editor' (from " + dir + "/config.yaml:2:5); available options: "
        "ft_llm, rome; pick one of them or add " + dir + "/editor/nope.yaml");
}

TEST_CASE("errors: overriding a missing key without + names the nearest keys") {
  std::string dir = make_config_dir();
  CHECK(error_of([&] { compose(dir, {"editor.lrr=1e-3"}); }) ==
        "override 'editor.lrr=1e-3': key 'editor.lrr' is not in the config; nearest existing keys: editor.lr, "
        "editor.layers, editor; fix the key, or write +editor.lrr=1e-3 to add it");
  CHECK(error_of([&] { compose(dir, {"+seed=1"}); }) ==
        "override '+seed=1': key 'seed' already exists (value integer 0); write seed=1 to change it, or ++seed=1 "
        "to set it either way");
  CHECK(error_of([&] { compose(dir, {"~sed"}); }) ==
        "override '~sed': key 'sed' is not in the config, so it cannot be deleted; nearest existing keys: seed, "
        "model, name; fix the key");
  CHECK(error_of([&] { compose(dir, {"seed.x=1"}); }).find("key 'seed.x' is not in the config") != std::string::npos);
  CHECK(error_of([&] { compose(dir, {"+seed.x=1"}); }) ==
        "override '+seed.x=1': key 'seed' is integer 0, not a map, so it cannot hold 'seed.x'; set seed itself instead");
  CHECK(error_of([&] { compose(dir, {"editor"}); }) ==
        "override 'editor' has no '='; write key=value, +key=value (add), ++key=value (set or add) or ~key (delete), "
        "e.g. editor.lr=1e-4");
  CHECK(error_of([&] { compose(dir, {"editor=ft_llm,rome"}); }) ==
        "override 'editor=ft_llm,rome': config group 'editor' takes one option name, e.g. editor=ft_llm; to sweep "
        "over options add -m");
  CHECK(error_of([&] { compose(dir, {"seed=1,2"}); }) ==
        "override 'seed=1,2' gives several values; run a sweep with -m, or quote the value to mean one string: "
        "seed='1,2'");
  CHECK(error_of([&] { compose(dir, {"launcher=local"}); }) ==
        "override 'launcher=local': config group 'launcher' is not in the defaults list of " + dir +
            "/config.yaml; write +launcher=local to add it");
}

TEST_CASE("errors: YAML syntax in a group file names file:line:col") {
  std::string dir = make_config_dir();
  mike::test::write_file(dir + "/editor/broken.yaml", "lr: 1\nlayers: [1, 2\nsteps: 3\n");
  std::string message = error_of([&] { compose(dir, {"editor=broken"}); });
  CHECK(message.rfind("YAML syntax error in " + dir + "/editor/broken.yaml:3:", 0) == 0);
  CHECK(message.find("; fix the YAML at that position") != std::string::npos);
  CHECK(error_of([&] { compose(dir, {"seed=[1"}); }).rfind("override 'seed=[1': value '[1' is not valid YAML", 0) == 0);
}

TEST_CASE("errors: interpolation to a missing key or in a cycle names the chain") {
  std::string dir = make_config_dir();
  CHECK(error_of([&] { compose(dir, {"+a=${b}", "+b=${model.dims}"}); }) ==
        "interpolation ${model.dims} in config key 'b' (from override '+a=${b}') refers to a missing key "
        "(chain: a -> b -> model.dims); nearest existing keys: model.dim, model.hidden, model");
  CHECK(error_of([&] { compose(dir, {"+a=${b}", "+b=x${c}", "+c=${a}"}); }) ==
        "interpolation cycle: a -> b -> c -> a (from override '+a=${b}'); make one of these keys a plain value");
}

TEST_CASE("errors: a missing primary config or config dir says what to pass") {
  std::string dir = make_config_dir();
  ComposeRequest request;
  request.config_dir = dir;
  request.config_name = "experiment";
  CHECK(error_of([&] { mike::compose_config(request); }) ==
        "config 'experiment' not found: no file " + dir + "/experiment.yaml; configs in " + dir +
            ": config; pass --config-name NAME");
  request.config_dir = dir + "/nope";
  CHECK(error_of([&] { mike::compose_config(request); }) ==
        "config directory '" + dir + "/nope' does not exist; run from the project root or pass --config-dir DIR");
}

TEST_CASE("the shipped configs/ compose, and every error exits 2") {
  ComposeRequest request;
  request.config_dir = std::string(MIKE_SOURCE_DIR) + "/configs";
  Config c = mike::compose_config(request).config;
  CHECK(c.get<std::string>("launcher.name") == "local");
  CHECK(c.has("editor.plugin"));
  try {
    request.overrides = {"launcher=nope"};
    mike::compose_config(request);
    FAIL("expected an error");
  } catch (const mike::Error& e) {
    CHECK(e.exit_code() == 2);
    CHECK(std::string(e.what()).find("available options: local, slurm") != std::string::npos);
  }
}

TEST_CASE("a primary config outside the config dir is found by its path from the working directory") {
  const std::string dir = make_config_dir();
  mike::test::write_file(dir + "/experiments/exp/config.yaml", "defaults:\n  - model: xs\n  - _self_\nseed: 7\n");
  const std::filesystem::path cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir);
  ComposeRequest request;
  request.config_dir = dir;
  request.config_name = "experiments/exp/config.yaml";
  std::string seed, dim;
  try {
    const Config c = mike::compose_config(request).config;
    seed = std::to_string(c.get<int>("seed"));
    dim = std::to_string(c.get<int>("model.hidden"));
  } catch (...) {
    std::filesystem::current_path(cwd);
    throw;
  }
  std::filesystem::current_path(cwd);
  CHECK(seed == "7");
  CHECK(dim == "64");
  // A bare name still means a file in the config dir only.
  request.config_name = "exp";
  CHECK(error_of([&] { mike::compose_config(request); }).rfind("config 'exp' not found: no file " + dir + "/exp.yaml", 0) ==
        0);
}

TEST_CASE("experiments/benchmark_scale composes the full world with a larger preset") {
  ComposeRequest request;
  request.config_dir = std::string(MIKE_SOURCE_DIR) + "/configs";
  request.config_name = std::string(MIKE_SOURCE_DIR) + "/experiments/benchmark_scale/config.yaml";
  const Config c = mike::compose_config(request).config;
  CHECK(c.get<std::string>("data.dir") == "data/synth_full");
  CHECK(c.get<int>("data.synth.entities") == 1001);
  CHECK(c.get<std::string>("model.plugin") == "llava");
  CHECK(c.get<int>("model.lm.hidden") == 384);  // llava_m
  CHECK(c.get<std::string>("editor.plugin") == "ft");
  CHECK(c.get<std::string>("task") == "vna");
}
