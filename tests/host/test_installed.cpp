// An installed mike, run as a user would: `cmake --install` into a temp
// prefix, then <prefix>/bin/mike from a directory with no configs/. It finds
// the installed configs and plugins, never the build tree's, and a user's
// --config-dir goes over the installed configs.
#include <doctest/doctest.h>

#include <cctype>
#include <string>

#include "process.h"

using mike::test::run_command;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

struct Install {
  std::string prefix, cwd;
};

// One install per test binary (it copies every plugin).
const Install& install() {
  static const Install made = [] {
    Install i;
    const std::string root = mike::test::make_temp_dir("installed");
    i.prefix = root + "/prefix";
    i.cwd = root + "/elsewhere";
    const auto r = run_command(std::string(MIKE_CMAKE_COMMAND) + " --install " + MIKE_BINARY_DIR + " --prefix " +
                               i.prefix + " > " + root + "/install.log");
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    mike::test::write_file(i.cwd + "/README", "no configs/ here\n");
    return i;
  }();
  return made;
}

// <prefix>/bin/mike ARGS, run in a directory outside the checkout and the build.
mike::test::CommandResult installed_mike(const std::string& args) {
  const Install& i = install();
  return run_command("cd " + i.cwd + " && MIKE_CACHE=" + i.cwd + "/cache " + i.prefix + "/bin/mike " + args);
}

}  // namespace

TEST_CASE("an installed mike composes from <prefix>/share/mike/configs when the working directory has no configs/") {
  auto r = installed_mike("run --cfg job");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(contains(r.out, "model:\n"));
  CHECK(contains(r.out, "  plugin: llava\n"));
  CHECK(contains(r.out, "  plugin: ft\n"));
  CHECK(contains(r.out, "metric:\n"));
  CHECK(contains(r.out, "    top_k: 5\n    plugin: locality\n"));  // an installed plugin's default config
  auto dry = installed_mike("run -m --dry-run editor=ft_llm,lora");
  CHECK_MESSAGE(dry.exit_code == 0, dry.err);
  CHECK(dry.out == "0: editor=ft_llm\n1: editor=lora\n");
}

TEST_CASE("an installed mike finds only the installed plugins, never the build tree's") {
  auto r = installed_mike("plugins list");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  // Every plugin line names a file of the prefix (whose lib/mike/plugins is
  // the only one searched); the build tree's plugin folder is not read at all.
  int plugins = 0;
  std::size_t start = r.out.find('\n') + 1;  // after the header
  while (start < r.out.size()) {
    const std::string line = r.out.substr(start, r.out.find('\n', start) - start);
    start += line.size() + 1;
    ++plugins;
    CAPTURE(line);
    CHECK(contains(line, " ok "));
    CHECK(contains(line, install().prefix + "/lib/mike/plugins/libmike_"));
  }
  CHECK(plugins >= 10);  // llava, the editors, the metrics
  CHECK_FALSE(contains(r.out + r.err, MIKE_BINARY_DIR "/lib/mike/plugins"));
}

TEST_CASE("--config-dir goes over the installed configs, in the order given") {
  const Install& i = install();
  mike::test::write_file(i.cwd + "/mine/editor/ft_llm.yaml", "plugin: ft\nlr: 0.25\n");
  mike::test::write_file(i.cwd + "/mine/editor/small_lora.yaml", "plugin: lora\nrank: 2\n");
  mike::test::write_file(i.cwd + "/first/editor/small_lora.yaml", "plugin: lora\nrank: 1\n");
  auto mine = installed_mike("run --cfg job --config-dir mine");
  REQUIRE_MESSAGE(mine.exit_code == 0, mine.err);
  CHECK(contains(mine.out, "  lr: 0.25\n"));  // the user's ft_llm over the installed one
  CHECK(contains(mine.out, "  plugin: llava\n"));  // the rest (config.yaml, model) from the installed configs
  auto lora = installed_mike("run --cfg job --config-dir mine editor=small_lora");
  CHECK(contains(lora.out, "  rank: 2\n"));
  auto ordered = installed_mike("run --cfg job --config-dir first --config-dir mine editor=small_lora");
  CHECK(contains(ordered.out, "  rank: 1\n"));
  auto help = installed_mike("run --help");
  std::string text;  // the help with its line wrapping undone
  for (char c : help.out)
    if (!(std::isspace(static_cast<unsigned char>(c)) && !text.empty() && text.back() == ' '))
      text += std::isspace(static_cast<unsigned char>(c)) ? ' ' : c;
  CHECK(contains(text, "--config-dir arg folder of config groups and primary configs; repeatable: folders are "
                       "searched in the order given"));
  CHECK(contains(text, "The installed configs (<prefix>/share/mike/configs) are searched last"));
}

TEST_CASE("an installed mike runs the default job from any directory") {
  auto r = installed_mike("-q run ++model.initial_weights=true data.dir=world data.generate=new data.limit=1 threads=1 out_dir=run");
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(contains(r.out, "reliability.token_acc"));
  CHECK(contains(mike::test::read_file(install().cwd + "/run/status.yaml"), "state: done\n"));
}
