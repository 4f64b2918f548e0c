// Plugins from the command line as a third party uses them: a plugin with no
// group file is picked by name (`editor=<plugin>`), `editor.plugin=X` gives
// X's defaults only, an unknown option lists the plugins too, and a plugin
// that throws anything exits 4 with its name and message.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "process.h"

using mike::test::run_mike;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The repo's configs with the fixture plugins (and the build tree's).
std::string cfg_job(const std::string& overrides) {
  return std::string("-q run --cfg job --config-dir ") + MIKE_SOURCE_DIR + "/configs --plugin-path " +
         MIKE_FIXTURE_PLUGIN_DIR + " " + overrides;
}

// The `editor:` section of a --cfg job printout.
std::string editor_section(const std::string& yaml) {
  std::size_t start = yaml.find("\neditor:\n");
  REQUIRE(start != std::string::npos);
  std::size_t end = start + 9;  // just after "editor:\n"; the section is its indented lines
  while (end < yaml.size() && yaml.compare(end, 2, "  ") == 0) {
    std::size_t newline = yaml.find('\n', end);
    end = newline == std::string::npos ? yaml.size() : newline + 1;
  }
  return yaml.substr(start + 1, end - start - 1);
}

// A run on a tiny generated world with the toy model: plugin failures happen
// within a second.
std::string run_args(const std::string& root, const std::string& overrides) {
  return std::string("run --config-dir ") + MIKE_SOURCE_DIR + "/configs --plugin-path " + MIKE_FIXTURE_PLUGIN_DIR +
         " model=toy data.dir=" + root + "/world data.generate=new data.limit=1 data.synth.entities=26 data.synth.image_size=16"
         " data.synth.images_per_entity=4 threads=1 " + overrides;
}

}  // namespace

TEST_CASE("editor=<plugin> with no configs/editor/<plugin>.yaml composes from the plugin's default config") {
  auto r = run_mike(cfg_job("editor=scale editor.factor=3.5"));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(editor_section(r.out) == "editor:\n  parameter: bigram.weight\n  factor: 3.5\n  plugin: scale\n");
  // The model group the same way: model=toy has no configs/model/toy.yaml.
  auto toy = run_mike(cfg_job("model=toy"));
  REQUIRE_MESSAGE(toy.exit_code == 0, toy.err);
  CHECK(contains(toy.out, "model:\n  init_scale: 0.0\n  seed: 0\n  plugin: toy\neditor:\n"));
}

TEST_CASE("an unknown editor option lists the options and the editor plugins") {
  auto r = run_mike(cfg_job("editor=nope"));
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "mike: error: unknown option 'nope' for config group 'editor' (from override 'editor=nope'); "
                        "available options: alphaedit, ft_llm, ft_vis, grace, ike, ke, lora, memit, mend, rome, serac, wise; editor plugins (with "
                        "their default config): "));
  CHECK(contains(r.err, "scale, serac, throws, wise; pick one of them or add " MIKE_SOURCE_DIR "/configs/editor/nope.yaml\n"));
}

TEST_CASE("editor.plugin=lora over the default ft_llm has lora's keys and none of ft's") {
  auto ft = run_mike(cfg_job(""));
  auto by_key = run_mike(cfg_job("editor.plugin=lora"));
  auto by_option = run_mike(cfg_job("editor=lora"));
  REQUIRE_MESSAGE(by_key.exit_code == 0, by_key.err);
  REQUIRE_MESSAGE(by_option.exit_code == 0, by_option.err);
  CHECK(contains(editor_section(ft.out), "  plugin: ft\n"));
  CHECK(contains(editor_section(ft.out), "  params: "));
  const std::string lora = editor_section(by_key.out);
  CHECK(lora == editor_section(by_option.out));  // configs/editor/lora.yaml is only `plugin: lora`
  CHECK(contains(lora, "  rank: 4\n"));
  CHECK(contains(lora, "  plugin: lora\n"));
  CHECK_FALSE(contains(lora, "params"));
  CHECK(by_key.out == by_option.out);
  // Other overrides of the group still apply on top of lora's defaults.
  auto ranked = run_mike(cfg_job("editor.plugin=lora editor.rank=2"));
  CHECK(contains(editor_section(ranked.out), "  rank: 2\n"));
}

TEST_CASE("whatever a plugin throws, `mike run` names the plugin and its message; SDK input errors keep their code") {
  const std::string root = mike::test::make_temp_dir("plugin_cli");
  // A plugin's ConfigError / ModelError classify the user's input (a bad key,
  // a bad checkpoint) and keep exit codes 2 / 5; every other failure is 4.
  struct Kind {
    std::string name, message;
    int exit_code;
  };
  const std::vector<Kind> kinds = {{"runtime_error", "fixture failure inside the plugin", 4},
                                   {"config_error", "fixture config error inside the plugin", 2},
                                   {"mike_error", "fixture mike::Error inside the plugin", 4},
                                   {"model_error", "fixture model error inside the plugin", 5},
                                   {"bad_alloc", "out of memory (std::bad_alloc)", 4},
                                   {"int", "threw an exception that is not a std::exception", 4}};
  int n = 0;
  for (const Kind& kind : kinds)
    for (const char* where : {"factory", "edit"}) {
      CAPTURE(kind.name);
      CAPTURE(where);
      const std::string out = root + "/run" + std::to_string(n++);
      auto r = run_mike(run_args(root, "editor=throws editor.throw=" + kind.name + " editor.where=" + where +
                                           " out_dir=" + out));
      CHECK(r.exit_code == kind.exit_code);
      CHECK(contains(r.err, "editor 'throws': " + kind.message));
      CHECK(contains(mike::test::read_file(out + "/status.yaml"), "exit_code: " + std::to_string(kind.exit_code) + "\n"));
    }
}
