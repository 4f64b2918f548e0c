// `mike fit` and the fit cache (run/editor_fit.h) from the command line, with
// MEND on the llava plugin's initial weights and a tiny world: the first fit
// trains and writes the cache, the second and `mike run` load it, --force
// trains again; a damaged cache file, a missing train split and an editor
// that needs no fit each get one clear answer.
#include <doctest/doctest.h>

#include <filesystem>

#include "process.h"

namespace fs = std::filesystem;
using mike::test::run_command;

namespace {
bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

struct Setup {
  std::string dir = mike::test::make_temp_dir("editor_fit_cli");
  std::string cache = dir + "/cache";
  std::string world = dir + "/world";
  std::string mike(const std::string& command, const std::string& extra = "") const {
    return "MIKE_CACHE=" + cache + " " + MIKE_EXE + " " + command + " -q --config-dir " + MIKE_SOURCE_DIR +
           "/configs model=llava_xs ++model.initial_weights=true editor=mend editor.fit_steps=4 data.dir=" + world +
           " data.generate=new data.synth.image_size=32 data.synth.images_per_entity=6 "
           "data.limit=2 threads=1 " + extra;
  }
};

std::string fit_file(const std::string& out) {
  const std::size_t at = out.find("fit: ");
  if (at == std::string::npos) return "";
  const std::size_t end = out.find_first_of(" \n", at + 5);
  return out.substr(at + 5, end - at - 5);
}
}  // namespace

TEST_CASE("mike fit trains once and caches; run and a second fit load the cache; --force refits") {
  const Setup s;
  const auto first = run_command(s.mike("fit"));
  REQUIRE_MESSAGE(first.exit_code == 0, first.err);
  const std::string file = fit_file(first.out);
  CHECK(file.rfind(s.cache + "/fit/mend-", 0) == 0);
  CHECK(fs::exists(file));
  CHECK_FALSE(contains(first.out, "(cached)"));
  CHECK(contains(first.out, "fit time: "));
  const auto written = fs::last_write_time(file);

  const auto second = run_command(s.mike("fit"));
  REQUIRE_MESSAGE(second.exit_code == 0, second.err);
  CHECK(fit_file(second.out) == file);
  CHECK(contains(second.out, "(cached)"));
  CHECK(fs::last_write_time(file) == written);

  const auto run = run_command(s.mike("run", "out_dir=" + s.dir + "/run"));
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  const std::string summary = mike::test::read_file(s.dir + "/run/summary.json");
  CHECK(contains(summary, "\"editor_fit\""));
  CHECK(contains(summary, "\"from_cache\": true"));
  CHECK(contains(summary, file));

  // Another config is another fit.
  const auto other = run_command(s.mike("fit", "editor.fit_steps=5"));
  REQUIRE_MESSAGE(other.exit_code == 0, other.err);
  CHECK(fit_file(other.out) != file);
  CHECK_FALSE(contains(other.out, "(cached)"));

  const auto forced = run_command(s.mike("fit", "--force"));
  REQUIRE_MESSAGE(forced.exit_code == 0, forced.err);
  CHECK(fit_file(forced.out) == file);
  CHECK_FALSE(contains(forced.out, "(cached)"));
}

TEST_CASE("fit errors: a damaged cache file, no train split, an editor with nothing to fit") {
  const Setup s;
  const auto first = run_command(s.mike("fit"));
  REQUIRE_MESSAGE(first.exit_code == 0, first.err);
  const std::string file = fit_file(first.out);
  mike::test::write_file(file, "not a safetensors file");
  const auto damaged = run_command(s.mike("run", "out_dir=" + s.dir + "/run"));
  CHECK(damaged.exit_code == 3);
  CHECK(contains(damaged.err, "the cached fit " + file + " does not read back"));
  CHECK(contains(damaged.err, "delete it and run again"));
  CHECK_FALSE(fs::exists(s.dir + "/run/run.h5"));  // refused before the run started

  fs::remove(s.world + "/train.jsonl");
  const auto no_train = run_command(s.mike("fit", "--force"));
  CHECK(no_train.exit_code == 2);
  CHECK(contains(no_train.err, "editor 'mend' is a trained editor and learns from the dataset's train split, but " +
                                   s.world + "/train.jsonl does not exist"));

  std::string ft_command = s.mike("fit");
  ft_command.replace(ft_command.find("editor=mend editor.fit_steps=4"), 30, "editor=ft_llm");
  const auto ft = run_command(ft_command);
  CHECK(ft.exit_code == 0);
  CHECK(contains(ft.out, "editor ft is not a trained editor"));
}

TEST_CASE("SIGTERM during a fit ends the run at the fit's next step, as interrupted, with nothing cached") {
  const Setup s;
  // 200,000 MEND steps would take many minutes: only the fit's own stop
  // check can end the run within the 60 s allowed below.
  const std::string run_dir = s.dir + "/run";
  const auto r = run_command(
      "(" + s.mike("run", "editor.fit_steps=200000 out_dir=" + run_dir) + ") & pid=$!; "
      "for i in $(seq 1 600); do [ -f " + run_dir + "/status.yaml ] && break; sleep 0.1; done; sleep 3; "
      "kill -TERM $pid; start=$(date +%s); "
      "( sleep 60; kill -KILL $pid 2>/dev/null ) & guard=$!; "
      "wait $pid; rc=$?; kill $guard 2>/dev/null; echo \"rc=$rc seconds=$(( $(date +%s) - start ))\"");
  CHECK_MESSAGE(contains(r.out, "rc=130 "), r.out, r.err);
  const std::string status = mike::test::read_file(run_dir + "/status.yaml");
  CHECK_MESSAGE(contains(status, "interrupted"), status);
  CHECK_MESSAGE(contains(status, "SIGTERM"), status);  // the signal that was sent, not "Ctrl-C"
  CHECK_FALSE(contains(status, "Ctrl-C"));
  bool cached = false;
  if (fs::exists(s.cache + "/fit"))
    for (const auto& entry : fs::directory_iterator(s.cache + "/fit")) cached = cached || entry.is_regular_file();
  CHECK_FALSE(cached);
}
