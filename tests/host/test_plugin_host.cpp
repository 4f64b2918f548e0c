// Plugin discovery, the ABI/LibTorch handshake, refusals, factories, config
// passing, exception boundaries and library lifetime, against the fixture
// plugins in tests/plugin_fixtures.
// torch before doctest: glog (via torch) defines CHECK too, and doctest's must win.
#include <torch/torch.h>
#undef CHECK
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include "mike/editor.h"
#include "mike/error.h"
#include "plugins/plugin_registry.h"
#include "process.h"

namespace fs = std::filesystem;
using namespace mike;

namespace {

const PluginRecord& record_of(const PluginRegistry& registry, const std::string& kind, const std::string& name,
                              PluginStatus status) {
  for (const PluginRecord& r : registry.records())
    if (r.kind == kind && r.name == name && r.status == status) return r;
  FAIL("no " << kind << " '" << name << "' with status " << to_string(status));
  throw std::logic_error("unreachable");
}

PluginRegistry fixture_registry() {
  PluginRegistry registry;
  registry.discover({MIKE_FIXTURE_PLUGIN_DIR});
  return registry;
}

}  // namespace

TEST_CASE("good fixture plugins load with the info they declare") {
  PluginRegistry registry = fixture_registry();
  const PluginRecord& toy = record_of(registry, "model", "toy", PluginStatus::ok);
  CHECK(toy.version == "0.3.0");
  CHECK(toy.description == "Byte-level bigram model for host tests");
  CHECK(toy.abi_version == kSdkAbiVersion);
  CHECK(toy.torch_version == TORCH_VERSION);
  CHECK(toy.default_config == "init_scale: 0.0\nseed: 0\n");
  CHECK(toy.file == std::string(MIKE_FIXTURE_PLUGIN_DIR) + "/libmike_model_toy.so");
  CHECK(registry.names("editor") == std::vector<std::string>({"crash", "leaky", "scale", "throws"}));
  CHECK(registry.names("metric") == std::vector<std::string>{"exact"});
}

TEST_CASE("refused plugins say why, naming the file and both versions") {
  PluginRegistry registry = fixture_registry();
  const std::string dir = MIKE_FIXTURE_PLUGIN_DIR;
  CHECK(record_of(registry, "editor", "bad_abi", PluginStatus::refused).reason ==
        "built for SDK ABI 999, but this mike has SDK ABI " + std::to_string(kSdkAbiVersion) +
            "; rebuild the plugin against this mike's SDK");
  CHECK(record_of(registry, "editor", "bad_torch", PluginStatus::refused).reason ==
        "built with LibTorch 0.0.1-fixture, but this mike uses LibTorch " TORCH_VERSION
        "; rebuild the plugin against the same LibTorch");
  CHECK(record_of(registry, "metric", "no_info", PluginStatus::refused).reason ==
        "has no 'mike_plugin_info' symbol: not a mike plugin (use MIKE_*_PLUGIN(...) from mike/plugin.h)");
  bool warned = false;
  for (const std::string& w : registry.warnings())
    warned |= w.find("refused " + dir + "/libmike_editor_bad_abi.so: built for SDK ABI 999") == 0;
  CHECK(warned);
  try {
    registry.create_editor("bad_torch", Config());
    FAIL("a refused plugin must not be created");
  } catch (const PluginError& e) {
    CHECK(std::string(e.what()) == "editor plugin 'bad_torch' (" + dir +
                                       "/libmike_editor_bad_torch.so) was refused: built with LibTorch 0.0.1-fixture, "
                                       "but this mike uses LibTorch " TORCH_VERSION
                                       "; rebuild the plugin against the same LibTorch");
  }
}

TEST_CASE("corrupt, unreadable and misnamed files are refused; the rest still load") {
  std::string dir = test::make_temp_dir("corrupt_plugins");
  test::write_file(dir + "/libmike_editor_x.so", std::string("\x13\x37random bytes, not a library", 30));
  test::write_file(dir + "/libmike_editor_y.so", std::string("\x7f" "ELF") + std::string(200, '\x01'));
  fs::create_symlink(dir + "/does-not-exist.so", dir + "/libmike_editor_z.so");
  fs::copy_file(std::string(MIKE_FIXTURE_PLUGIN_DIR) + "/libmike_metric_exact.so", dir + "/libmike_metric_other.so");
  PluginRegistry registry;
  registry.discover({dir, MIKE_FIXTURE_PLUGIN_DIR});
  // Unsealed files are refused before dlopen (test_plugin_files.cpp has the rest of the seal).
  CHECK(record_of(registry, "editor", "x", PluginStatus::refused).reason ==
        "not sealed: built without mike_add_plugin, or damaged; rebuild it with mike_add_plugin (30 bytes, shorter "
        "than a seal)");
  CHECK(record_of(registry, "editor", "y", PluginStatus::refused).reason ==
        "not sealed: built without mike_add_plugin, or damaged; rebuild it with mike_add_plugin (204 bytes, shorter "
        "than a seal)");
  CHECK(record_of(registry, "editor", "z", PluginStatus::refused).reason ==
        "cannot read the file (No such file or directory); check that it exists and is readable");
  CHECK(record_of(registry, "metric", "other", PluginStatus::refused).reason ==
        "its seal says metric 'exact' but the file name says metric 'other'; rename the file to "
        "libmike_metric_exact.so");
  CHECK(registry.find("model", "toy") != nullptr);
  CHECK(registry.find("editor", "scale") != nullptr);
}

TEST_CASE("the first plugin of a name in the search path wins; later ones are shadowed") {
  std::string first = test::make_temp_dir("first");
  fs::copy_file(std::string(MIKE_FIXTURE_PLUGIN_DIR) + "/libmike_model_toy.so", first + "/libmike_model_toy.so");
  PluginRegistry registry;
  registry.discover({first, MIKE_FIXTURE_PLUGIN_DIR});
  CHECK(registry.find("model", "toy")->file == first + "/libmike_model_toy.so");
  const PluginRecord& shadowed = record_of(registry, "model", "toy", PluginStatus::shadowed);
  CHECK(shadowed.file == std::string(MIKE_FIXTURE_PLUGIN_DIR) + "/libmike_model_toy.so");
  CHECK(shadowed.reason == "shadowed by " + first + "/libmike_model_toy.so (earlier in the search path)");
  CHECK(shadowed.library == nullptr);
  const std::string expected = "model plugin 'toy' in " + std::string(MIKE_FIXTURE_PLUGIN_DIR) +
                               "/libmike_model_toy.so is " + shadowed.reason + "; it is not loaded";
  CHECK(std::count(registry.warnings().begin(), registry.warnings().end(), expected) == 1);
}

TEST_CASE("factories receive their config and the objects behave") {
  PluginRegistry registry = fixture_registry();
  auto model = registry.create_model("toy", Config::from_yaml("init_scale: 1.0\nseed: 3\n"));
  auto editor = registry.create_editor("scale", Config::from_yaml("parameter: bigram.weight\nfactor: 3.0\n"));
  auto metric = registry.create_metric("exact", Config::from_yaml("case_sensitive: false\n"));

  torch::Tensor before = model->parameter("bigram.weight").clone();
  CHECK(before.abs().sum().item<double>() > 0.0);  // init_scale reached the model
  auto edited = editor->edit(*model, {});
  CHECK(torch::allclose(model->parameter("bigram.weight"), before * 3.0));
  CHECK(edited->stats().at("factor") == 3.0);
  edited->restore_original();
  CHECK(torch::equal(model->parameter("bigram.weight"), before));

  MetricInput input;
  input.target = "Varnel Finch";
  input.generated_post = "varnel finch";
  input.post.token_accuracy = 0.25;
  auto values = metric->compute(input);
  CHECK(values.at("exact_match") == 1.0);  // case_sensitive: false reached the metric
  CHECK(values.at("token_acc") == 0.25);
}

TEST_CASE("exceptions inside a plugin are reported with the plugin's name") {
  PluginRegistry registry = fixture_registry();
  try {
    registry.create_editor("throws", Config());
    FAIL("expected the factory to throw");
  } catch (const PluginError& e) {
    CHECK(std::string(e.what()) == "editor 'throws': fixture failure inside the plugin");
  }
  auto model = registry.create_model("toy", Config());
  try {
    call_plugin("model 'toy'", [&] { return model->parameter("nope"); });
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "model 'toy': toy model has no parameter 'nope'");
    CHECK(e.exit_code() == 5);  // a ModelError thrown by a plugin keeps its code (a model/checkpoint error)
  }
  try {
    registry.create_editor("scale", Config::from_yaml("factor: 2.0\n", "scale.yaml"));
    FAIL("expected a config error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) ==
          "editor 'scale': config key 'parameter' is missing; set it in the config or on the command line, e.g. "
          "+parameter=...");
    CHECK(e.exit_code() == 2);  // the plugin's ConfigError keeps its code
  }
  CHECK_THROWS_WITH_AS(registry.create_editor("nonexistent", Config()),
                       "no editor plugin named 'nonexistent'; available: crash, leaky, scale, throws. Check `mike plugins list`, "
                       "--plugin-path or MIKE_PLUGIN_PATH",
                       PluginError);
}

TEST_CASE("whatever a plugin throws, from its factory or a call, is rethrown with its name; SDK input errors keep their code") {
  PluginRegistry registry = fixture_registry();
  auto model = registry.create_model("toy", Config());
  // ConfigError (2) and ModelError (5) classify the user's input and keep
  // their type; everything else becomes a PluginError (4).
  struct Kind {
    std::string name, message;
    int exit_code;
  };
  const std::vector<Kind> kinds = {
      {"runtime_error", "fixture failure inside the plugin", 4},
      {"config_error", "fixture config error inside the plugin", 2},
      {"mike_error", "fixture mike::Error inside the plugin", 4},
      {"model_error", "fixture model error inside the plugin", 5},
      {"bad_alloc", "out of memory (std::bad_alloc); use a smaller model, batch or data.limit", 4},
      {"int", "threw an exception that is not a std::exception", 4}};
  for (const Kind& kind : kinds) {
    for (const std::string where : {"factory", "edit"}) {
      CAPTURE(kind.name);
      CAPTURE(where);
      std::string what = "(no error)";
      int code = -1;
      bool plugin_error = false;
      try {
        auto editor =
            registry.create_editor("throws", Config::from_yaml("throw: " + kind.name + "\nwhere: " + where + "\n"));
        call_plugin("editor 'throws'", [&] { return editor->edit(*model, {}); });
      } catch (const Error& e) {
        what = e.what();
        code = e.exit_code();
        plugin_error = dynamic_cast<const PluginError*>(&e) != nullptr;
      } catch (...) {
        what = "(not a mike::Error)";
      }
      CHECK(what == "editor 'throws': " + kind.message);
      CHECK(code == kind.exit_code);
      CHECK(plugin_error == (kind.exit_code == 4));
    }
  }
  // A PluginError from an inner boundary with the same name is not named twice.
  CHECK_THROWS_WITH_AS(call_plugin("editor 'throws'", [&] { return registry.create_editor("throws", Config()); }),
                       "editor 'throws': fixture failure inside the plugin", PluginError);
}

TEST_CASE("a plugin's library stays loaded while an object it created is alive") {
  std::shared_ptr<Model> model;
  {
    PluginRegistry registry = fixture_registry();
    model = registry.create_model("toy", Config::from_yaml("init_scale: 1.0\n"));
  }  // the registry (and its handles) are gone
  auto text = model->generate({ModelInput{"ab", {}}}, GenerateOptions{});
  CHECK(text.size() == 1);
  CHECK(model->describe() == "toy bigram model: 1 layer, 256x256, 65536 parameters");
}

TEST_CASE("taps read and replace activations and cost nothing when unregistered") {
  PluginRegistry registry = fixture_registry();
  auto model = registry.create_model("toy", Config::from_yaml("init_scale: 1.0\n"));
  ScoreRequest request{{"ab", {}}, "cd"};
  double baseline = model->score({request})[0].loss;
  int calls = 0;
  {
    TapHandle reader = model->add_tap("bigram.out", [&](const std::string& tap, const torch::Tensor& x) {
      CHECK(tap == "bigram.out");
      ++calls;
      return x;
    });
    CHECK(model->score({request})[0].loss == baseline);
    CHECK(calls == 1);
    TapHandle zeroing = model->add_tap("bigram.out", [](const std::string&, const torch::Tensor& x) {
      return torch::zeros_like(x);
    });
    // Zero logits = uniform over 256 bytes.
    CHECK(model->score({request})[0].loss == doctest::Approx(std::log(256.0)).epsilon(1e-6));
  }
  CHECK(model->score({request})[0].loss == baseline);  // handles gone, taps removed
  CHECK(calls == 2);
}
