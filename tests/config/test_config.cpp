// mike::Config: typed getters, nesting, and error messages that name the key
// path, expected and actual type, and the origin file:line:col.
#include <doctest/doctest.h>

#include <functional>

#include "mike/config.h"
#include "mike/error.h"
#include "process.h"

using mike::Config;
using mike::ConfigError;

namespace {
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace

TEST_CASE("typed getters read YAML scalars, lists and nested maps") {
  Config c = Config::from_yaml(
      "editor:\n  name: rome\n  lr: 1e-3\n  steps: 25\n  layers: [3, 5, 7]\n  norm: true\n  tags: [a, b]\n");
  CHECK(c.get<std::string>("editor.name") == "rome");
  CHECK(c.get<double>("editor.lr") == doctest::Approx(1e-3));
  CHECK(c.get<int>("editor.steps") == 25);
  CHECK(c.get<std::int64_t>("editor.steps") == 25);
  CHECK(c.get<bool>("editor.norm") == true);
  CHECK(c.get<std::vector<int>>("editor.layers") == std::vector<int>{3, 5, 7});
  CHECK(c.get<std::vector<std::string>>("editor.tags") == std::vector<std::string>{"a", "b"});
  Config editor = c.sub("editor");
  CHECK(editor.path() == "editor");
  CHECK(editor.get<int>("steps") == 25);
  CHECK(editor.keys() == std::vector<std::string>{"name", "lr", "steps", "layers", "norm", "tags"});
  CHECK(c.get_or<int>("editor.missing", 7) == 7);
  CHECK(c.has("editor.layers.2"));
  CHECK(c.get<int>("editor.layers.2") == 7);
  CHECK_FALSE(c.has("editor.layers.3"));
}

TEST_CASE("an integer is a valid float but a quoted number is a string") {
  Config c = Config::from_yaml("a: 3\nb: \"3\"\nc: 2.5\n");
  CHECK(c.get<double>("a") == 3.0);
  CHECK(c.get<std::string>("b") == "3");
  CHECK(error_of([&] { c.get<int>("b"); }).find("expects an integer but got string \"3\"") != std::string::npos);
  CHECK(error_of([&] { c.get<int>("c"); }).find("expects an integer but got float 2.5") != std::string::npos);
}

TEST_CASE("wrong type names key path, expected and actual type, and file:line:col") {
  std::string dir = mike::test::make_temp_dir("config");
  mike::test::write_file(dir + "/rome.yaml", "layer: 5\nlr: fast\n");
  Config c = Config::from_file(dir + "/rome.yaml");
  std::string message = error_of([&] { c.get<double>("lr"); });
  CHECK(message == "config key 'lr' expects a float but got string \"fast\" (from " + dir +
                       "/rome.yaml:2:5); set it like lr=1e-4");
  Config nested = Config::from_yaml("editor:\n  lr: [1]\n", "cfg.yaml");
  CHECK(error_of([&] { nested.sub("editor").get<double>("lr"); }) ==
        "config key 'editor.lr' expects a float but got a list (from cfg.yaml:2:7); set it like editor.lr=1e-4");
}

TEST_CASE("missing keys and bad YAML are clear errors") {
  Config c = Config::from_yaml("a: 1\n");
  CHECK(error_of([&] { c.get<int>("b.c"); }) ==
        "config key 'b.c' is missing; set it in the config or on the command line, e.g. +b.c=...");
  CHECK(error_of([&] { c.sub("a"); }).find("should be a map but is integer 1") != std::string::npos);
  std::string syntax = error_of([] { Config::from_yaml("a: [1, 2\nb: 3\n", "broken.yaml"); });
  CHECK(syntax.rfind("YAML syntax error in broken.yaml:", 0) == 0);
  CHECK(error_of([] { Config::from_yaml("- 1\n- 2\n", "list.yaml"); }) ==
        "config list.yaml must be a YAML map at the top level, but it is a list");
  try {
    c.get<int>("zzz");
    FAIL("expected an error");
  } catch (const mike::Error& e) {
    CHECK(e.exit_code() == 2);
  }
}
