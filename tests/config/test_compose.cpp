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
  CHECK(error_of([&] { compose(dir, {"seed=[1"}); }) ==
        "override 'seed=[1': '[' at column 1 of the value is never closed; close it, e.g. seed=[1]");
  CHECK(error_of([&] { compose(dir, {"seed=@x"}); }).rfind("override 'seed=@x': value '@x' is not valid YAML", 0) == 0);
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
  CHECK(c.get<int>("model.lm.hidden") == 384);  // the config's own model section, over llava_m
  CHECK(c.get<int>("model.vision.image_size") == 64);
  CHECK(c.get<int>("model.lm.kv_heads") == 4);  // kept from llava_m where the section is silent
  CHECK(c.get<int>("model.pretrain.batch_size") == 32);
  CHECK(c.get<std::string>("editor.plugin") == "ft");
  CHECK(c.get<std::string>("task") == "vna");
}

namespace {
// Plugins as the registry would report them: ft, lora and toy, with defaults.
mike::PluginDefaultsLookup fixture_plugins() {
  return [](const std::string& group, const std::string& name) -> std::optional<mike::PluginDefaults> {
    if (group == "editor" && name == "ft") return mike::PluginDefaults{"lr: 0.5\nparams: [w]\n", "plugin editor 'ft' defaults"};
    if (group == "editor" && name == "lora")
      return mike::PluginDefaults{"rank: 4\nalpha: 8.0\nlr: 1.0e-3\n", "plugin editor 'lora' defaults"};
    if (group == "model" && name == "toy") return mike::PluginDefaults{"init_scale: 0.0\n", "plugin model 'toy' defaults"};
    return std::nullopt;
  };
}
mike::PluginNamesLookup fixture_plugin_names() {
  return [](const std::string& group) {
    return group == "editor" ? std::vector<std::string>{"ft", "lora"} : std::vector<std::string>{};
  };
}
}  // namespace

TEST_CASE("a plugin with no group file is an option of its group, composed from its default config") {
  std::string dir = make_config_dir();
  Config c = compose(dir, {"editor=lora", "editor.rank=2"}, fixture_plugins());
  CHECK(c.get<std::string>("editor.plugin") == "lora");
  CHECK(c.get<int>("editor.rank") == 2);
  CHECK(c.get<double>("editor.alpha") == doctest::Approx(8.0));
  CHECK(c.get<int>("editor.steps") == 10);  // config.yaml's own editor keys still apply
  CHECK_FALSE(c.has("editor.layers"));      // nothing of ft_llm.yaml
  CHECK(c.sub("editor").keys() == std::vector<std::string>{"rank", "alpha", "lr", "plugin", "steps"});
  CHECK(c.origin("editor.alpha") == "plugin editor 'lora' defaults:2:8");
  CHECK(c.origin("editor.plugin") == "override 'editor=lora' (editor plugin 'lora', no file " + dir +
                                         "/editor/lora.yaml)");
  // The same for any plugin-backed group: the model.
  Config toy = compose(dir, {"model=toy"}, fixture_plugins());
  CHECK(toy.sub("model").keys() == std::vector<std::string>{"init_scale", "plugin"});
  // A group file of the same name still wins over the bare plugin.
  CHECK(compose(dir, {"editor=rome"}, fixture_plugins()).get<int>("editor.layer") == 5);
}

TEST_CASE("an unknown group option lists the options and the plugins of that group") {
  std::string dir = make_config_dir();
  ComposeRequest request;
  request.config_dir = dir;
  request.overrides = {"editor=romee"};
  request.plugin_defaults = fixture_plugins();
  request.plugin_names = fixture_plugin_names();
  CHECK(error_of([&] { mike::compose_config(request); }) ==
        "unknown option 'romee' for config group 'editor' (from override 'editor=romee'); available options: "
        "ft_llm, rome; editor plugins (with their default config): ft, lora; pick one of them or add " + dir +
            "/editor/romee.yaml");
}

TEST_CASE("editor.plugin=X re-composes the group from X's defaults: no key of the previous editor stays") {
  std::string dir = make_config_dir();
  Config c = compose(dir, {"editor.plugin=lora", "editor.rank=16"}, fixture_plugins());
  CHECK(c.get<std::string>("editor.plugin") == "lora");
  CHECK(c.origin("editor.plugin") == "override 'editor.plugin=lora'");
  CHECK(c.get<int>("editor.rank") == 16);
  CHECK(c.get<double>("editor.lr") == doctest::Approx(1e-3));  // lora's lr, not ft_llm.yaml's 1e-4
  CHECK_FALSE(c.has("editor.params"));                           // ft's defaults are gone
  CHECK_FALSE(c.has("editor.layers"));                           // and so is ft_llm.yaml
  CHECK(c.sub("editor").keys() == std::vector<std::string>{"rank", "alpha", "lr", "plugin", "steps"});
  // ++ works the same; naming the plugin the group already has changes nothing.
  CHECK(compose(dir, {"++editor.plugin=lora"}, fixture_plugins()).sub("editor").keys() ==
        std::vector<std::string>{"rank", "alpha", "lr", "plugin", "steps"});
  Config same = compose(dir, {"editor.plugin=ft"}, fixture_plugins());
  CHECK(same.get<std::vector<int>>("editor.layers") == std::vector<int>{3});
  CHECK(same.get<std::vector<std::string>>("editor.params") == std::vector<std::string>{"w"});
  // A key only the old editor had is an error naming the nearest keys of the new one.
  CHECK(error_of([&] { compose(dir, {"editor.plugin=lora", "editor.layers=[1]"}, fixture_plugins()); })
            .rfind("override 'editor.layers=[1]': key 'editor.layers' is not in the config; nearest existing keys: ", 0) == 0);
}

TEST_CASE("several config dirs: the first that has a file wins, options are the union") {
  std::string user = mike::test::make_temp_dir("compose_user");
  std::string installed = make_config_dir();
  mike::test::write_file(user + "/editor/rome.yaml", "plugin: rome\nlayer: 1\nlr: 0.1\n");
  mike::test::write_file(user + "/editor/mine.yaml", "plugin: mine\nstrength: 3\nlr: 0.2\n");
  ComposeRequest request;
  request.config_dir = user;  // no config.yaml here: the installed one is used
  request.more_config_dirs = {installed};
  request.overrides = {"editor=rome"};
  Config c = mike::compose_config(request).config;
  CHECK(c.get<int>("editor.layer") == 1);
  CHECK(c.origin("editor.layer") == user + "/editor/rome.yaml:2:8");
  CHECK(c.get<int>("model.dim") == 64);  // model/xs.yaml from the installed dir
  request.overrides = {"editor=mine"};
  CHECK(mike::compose_config(request).config.get<int>("editor.strength") == 3);
  CHECK(mike::group_options({user, installed}, "editor") == std::vector<std::string>{"ft_llm", "mine", "rome"});
  CHECK(mike::is_config_group({user, installed}, "model"));
  CHECK(mike::primary_config_path({user, installed}, "config") == installed + "/config.yaml");
  mike::test::write_file(user + "/config.yaml", "defaults:\n  - editor: mine\nseed: 5\n");
  request.overrides = {};
  CHECK(mike::compose_config(request).config.get<int>("seed") == 5);
  request.config_dir = user + "/missing";
  request.more_config_dirs = {user + "/missing2"};
  CHECK(error_of([&] { mike::compose_config(request); }) ==
        "config directories '" + user + "/missing', '" + user +
            "/missing2' do not exist; run from the project root or pass --config-dir DIR");
}

TEST_CASE("metric group: each section naming a plugin gets that plugin's defaults beneath it") {
  std::string dir = make_config_dir();
  mike::test::write_file(dir + "/config.yaml", "defaults:\n  - editor: ft_llm\n  - metric: default\n");
  mike::test::write_file(dir + "/metric/default.yaml",
                         "agree: {plugin: agreement}\nstrict: {plugin: agreement, top_k: 1}\n"
                         "probes: {vna: {t_locality: [agree, strict]}}\n");
  mike::test::write_file(dir + "/metric/loose.yaml", "agree: {plugin: agreement, top_k: 9}\n");
  auto plugins = [](const std::string& group, const std::string& name) -> std::optional<mike::PluginDefaults> {
    if (group == "metric" && name == "agreement")
      return mike::PluginDefaults{"top_k: 5\nweight: 1.0\n", "plugin metric 'agreement' defaults"};
    if (group == "metric" && name == "exact") return mike::PluginDefaults{"case_sensitive: true\n", "plugin metric 'exact' defaults"};
    return std::nullopt;
  };
  Config c = compose(dir, {"metric.strict.weight=0.5"}, plugins);
  CHECK(c.get<int>("metric.agree.top_k") == 5);
  CHECK(c.origin("metric.agree.top_k") == "plugin metric 'agreement' defaults:1:8");
  CHECK(c.get<int>("metric.strict.top_k") == 1);  // the group file wins over the defaults
  CHECK(c.get<double>("metric.strict.weight") == doctest::Approx(0.5));
  CHECK(c.sub("metric.strict").keys() == std::vector<std::string>{"top_k", "weight", "plugin"});
  CHECK(c.get<std::vector<std::string>>("metric.probes.vna.t_locality") == std::vector<std::string>{"agree", "strict"});
  // Another option of the group, and a metric added on the command line, compose the same way.
  CHECK(compose(dir, {"metric=loose"}, plugins).get<int>("metric.agree.top_k") == 9);
  Config added = compose(dir, {"+metric.exact={plugin: exact}"}, plugins);
  CHECK(added.get<bool>("metric.exact.case_sensitive") == true);
  CHECK(added.get<std::string>("metric.exact.plugin") == "exact");
}
