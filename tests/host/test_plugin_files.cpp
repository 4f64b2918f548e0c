// Damaged plugin files are refused by name before dlopen (the plugin seal,
// framework/src/plugins/plugin_seal.h): a copy of a real plugin truncated,
// byte-flipped, extended, emptied, unsealed or stripped shadows the real one;
// `mike plugins list` reports it refused and `mike run` stops with an error
// that names the file — never a signal, never a hang.
// torch before doctest: glog (via torch) defines CHECK too, and doctest's must win.
#include <torch/torch.h>
#undef CHECK
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>

#include "mike/plugin.h"
#include "plugins/plugin_registry.h"
#include "plugins/plugin_seal.h"
#include "process.h"

namespace fs = std::filesystem;
using namespace mike;

namespace {
bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

const std::string kRealEditor = std::string(MIKE_BINARY_DIR) + "/lib/mike/plugins/libmike_editor_ft.so";

std::string bytes_of(const std::string& path) { return test::read_file(path); }

// A temp plugin dir holding `content` as libmike_<file_name>.
std::string plugin_dir_with(const std::string& label, const std::string& file_name, const std::string& content) {
  std::string dir = test::make_temp_dir(label);
  std::ofstream(dir + "/" + file_name, std::ios::binary).write(content.data(), static_cast<std::streamsize>(content.size()));
  return dir;
}

std::string seal_command(const std::string& file, const std::string& args) {
  return std::string(MIKE_PLUGIN_SEAL_EXE) + " " + file + " " + args;
}

// `mike run` that needs editor ft (the default editor), so a damaged
// libmike_editor_ft.so in `dir` shadows the real one.
std::string run_args(const std::string& dir, const std::string& world, const std::string& out) {
  return std::string("run --config-dir ") + MIKE_SOURCE_DIR + "/configs --plugin-path " + dir + ":" +
         MIKE_FIXTURE_PLUGIN_DIR +
         " model.plugin=toy ++model.initial_weights=true 'editor.layers=[]' 'editor.params=[bigram.weight]' "
         "editor.lr=0.5 editor.steps=2 data.dir=" + world +
         " data.generate=new data.limit=1 data.synth.entities=52 data.synth.image_size=16 "
         "data.synth.images_per_entity=4 threads=1 out_dir=" + out;
}

test::CommandResult mike_with_timeout(const std::string& args) {
  return test::run_command("timeout 60 " + std::string(MIKE_EXE) + " " + args);
}

// Exited by itself (no signal, no timeout), with `code` or any non-zero code if code < 0.
void check_clean_exit(const test::CommandResult& r, int code, const std::string& what) {
  INFO(what << "\nstdout:\n" << r.out << "\nstderr:\n" << r.err);
  CHECK(r.exit_code != 124);
  CHECK(r.exit_code < 128);
  if (code >= 0)
    CHECK(r.exit_code == code);
  else
    CHECK(r.exit_code != 0);
}

struct Damage {
  std::string label;
  std::function<std::string(const std::string&)> apply;  // sealed bytes -> damaged bytes
  std::string expected;                                  // words the refusal must contain
};

std::vector<Damage> damages() {
  auto truncate_to = [](double fraction) {
    return [fraction](const std::string& b) { return b.substr(0, static_cast<std::size_t>(b.size() * fraction)); };
  };
  auto flip_at = [](std::function<std::size_t(std::size_t)> where) {
    return [where](const std::string& b) {
      std::string d = b;
      d[where(d.size())] ^= 0x5a;
      return d;
    };
  };
  return {
      {"truncated to 10%", truncate_to(0.10), "not sealed"},
      {"truncated to 50%", truncate_to(0.50), "not sealed"},
      {"truncated to 99%", truncate_to(0.99), "not sealed"},
      {"one byte flipped in the middle", flip_at([](std::size_t n) { return n / 2; }), "damaged (truncated or modified)"},
      {"one byte flipped in the seal", flip_at([](std::size_t n) { return n - kPluginSealSize + 100; }),
       "damaged (truncated or modified)"},
      {"junk appended after the seal", [](const std::string& b) { return b + std::string(1000, 'j'); }, "not sealed"},
      {"empty", [](const std::string&) { return std::string(); }, "not sealed"},
      {"random bytes",
       [](const std::string&) {
         std::mt19937 rng(7);
         std::string d(64 * 1024, '\0');
         for (char& c : d) c = static_cast<char>(rng());
         return d;
       },
       "not sealed"},
      {"unsealed (seal cut off)", [](const std::string& b) { return b.substr(0, b.size() - kPluginSealSize); },
       "not sealed"},
  };
}
}  // namespace

TEST_CASE("a real plugin is sealed, and its sealed copy loads") {
  std::string bytes = bytes_of(kRealEditor);
  REQUIRE(bytes.size() > kPluginSealSize);
  CHECK(bytes.substr(bytes.size() - 16) == "mike-plugin-seal");
  CHECK(check_plugin_seal(kRealEditor, "editor", "ft").empty());
  for (const char* fixture : {"model_toy", "editor_scale", "metric_exact", "editor_bad_abi", "metric_no_info"}) {
    std::string file = std::string(MIKE_FIXTURE_PLUGIN_DIR) + "/libmike_" + fixture + ".so";
    CHECK_MESSAGE(bytes_of(file).substr(bytes_of(file).size() - 16) == "mike-plugin-seal", file);
  }
  std::string dir = plugin_dir_with("sealed_copy", "libmike_editor_ft.so", bytes);
  PluginRegistry registry;
  registry.discover({dir});
  const PluginRecord* ft = registry.find("editor", "ft");
  REQUIRE(ft != nullptr);  // dlopen takes a file with the seal after its sections
  CHECK(ft->file == dir + "/libmike_editor_ft.so");
  // Sealing again replaces the seal: same bytes.
  std::string twice = dir + "/libmike_editor_ft.so";
  REQUIRE(test::run_command(seal_command(twice, "editor ft")).exit_code == 0);
  CHECK(bytes_of(twice) == bytes);
}

TEST_CASE("every kind of damage is refused by name in plugins list and in a run, without a signal") {
  const std::string sealed = bytes_of(kRealEditor);
  const std::string root = test::make_temp_dir("plugin_files");
  const std::string world = root + "/world";
  // An intact copy in the same position runs: the damaged ones below fail because of the damage.
  std::string intact = plugin_dir_with("intact", "libmike_editor_ft.so", sealed);
  auto ok = mike_with_timeout(run_args(intact, world, root + "/ok"));
  check_clean_exit(ok, 0, "intact copy");
  int index = 0;
  for (const Damage& damage : damages()) {
    {
      INFO(damage.label);
      std::string dir = plugin_dir_with("damaged", "libmike_editor_ft.so", damage.apply(sealed));
      std::string file = dir + "/libmike_editor_ft.so";
      auto list = mike_with_timeout("plugins list --plugin-path " + dir);
      check_clean_exit(list, 0, damage.label + ": plugins list");
      CHECK(contains(list.out, "editor  ft"));
      CHECK(contains(list.out, "refused   " + file));
      CHECK(contains(list.out, damage.expected));
      auto info = mike_with_timeout("plugins info ft --plugin-path " + dir);
      check_clean_exit(info, 4, damage.label + ": plugins info");
      auto run = mike_with_timeout(run_args(dir, world, root + "/run" + std::to_string(index++)));
      check_clean_exit(run, -1, damage.label + ": run");
      CHECK(contains(run.err, "editor plugin 'ft' (" + file + ") was refused: "));
      CHECK(contains(run.err, damage.expected));
    }
  }
}

TEST_CASE("random bytes named like a plugin are refused as not sealed") {
  std::mt19937 rng(3);
  std::string noise(5000, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  std::string dir = plugin_dir_with("noise", "libmike_editor_x.so", noise);
  auto list = mike_with_timeout("plugins list --plugin-path " + dir);
  check_clean_exit(list, 0, "plugins list");
  CHECK(contains(list.out, "refused   " + dir + "/libmike_editor_x.so"));
  CHECK(contains(list.out, "not sealed: built without mike_add_plugin, or damaged; rebuild it with mike_add_plugin"));
}

TEST_CASE("strip of a sealed plugin is refused as damage, not loaded") {
  if (test::run_command("command -v strip").exit_code != 0) return;
  std::string dir = plugin_dir_with("stripped", "libmike_editor_ft.so", bytes_of(kRealEditor));
  std::string file = dir + "/libmike_editor_ft.so";
  test::run_command("strip " + file);  // it may warn about the bytes after the sections
  std::string why = check_plugin_seal(file, "editor", "ft");
  INFO(why);
  CHECK((contains(why, "not sealed") || contains(why, "damaged (truncated or modified)")));
}

TEST_CASE("a seal for another ABI, LibTorch or name is refused before dlopen, naming both versions") {
  std::string dir = plugin_dir_with("reseal", "libmike_editor_ft.so", bytes_of(kRealEditor));
  std::string file = dir + "/libmike_editor_ft.so";
  REQUIRE(test::run_command(seal_command(file, "editor ft --abi 999")).exit_code == 0);
  CHECK(check_plugin_seal(file, "editor", "ft") ==
        "built for SDK ABI 999 (its seal), but this mike has SDK ABI " + std::to_string(kSdkAbiVersion) +
            "; rebuild the plugin against this mike's SDK");
  REQUIRE(test::run_command(seal_command(file, "editor ft --torch 0.0.1-sealed")).exit_code == 0);
  CHECK(check_plugin_seal(file, "editor", "ft") ==
        "built with LibTorch 0.0.1-sealed (its seal), but this mike uses LibTorch " TORCH_VERSION
        "; rebuild the plugin against the same LibTorch");
  REQUIRE(test::run_command(seal_command(file, "editor rome")).exit_code == 0);
  CHECK(check_plugin_seal(file, "editor", "ft") ==
        "its seal says editor 'rome' but the file name says editor 'ft'; rename the file to libmike_editor_rome.so");
  REQUIRE(test::run_command(seal_command(file, "editor ft")).exit_code == 0);
  CHECK(check_plugin_seal(file, "editor", "ft").empty());
}

TEST_CASE("a sealed file that is not a loadable library still gets the after-seal checks") {
  std::string dir = test::make_temp_dir("sealed_junk");
  test::write_file(dir + "/libmike_editor_x.so", std::string("\x13\x37random bytes, not a library", 30));
  test::write_file(dir + "/libmike_editor_y.so", std::string("\x7f" "ELF") + std::string(200, '\x01'));
  REQUIRE(test::run_command(seal_command(dir + "/libmike_editor_x.so", "editor x")).exit_code == 0);
  REQUIRE(test::run_command(seal_command(dir + "/libmike_editor_y.so", "editor y")).exit_code == 0);
  PluginRegistry registry;
  registry.discover({dir});
  std::map<std::string, std::string> reasons;
  for (const PluginRecord& r : registry.records()) reasons[r.name] = r.reason;
  CHECK(reasons["x"] == "not a shared library (no ELF header); the file is corrupt or not a plugin — rebuild or delete it");
  CHECK(reasons["y"].rfind("cannot be loaded: ", 0) == 0);
}

TEST_CASE("the handshake after dlopen stays a second check behind the seal") {
  // Sealed for the name in its file name, while its info says another name.
  std::string dir = test::make_temp_dir("handshake");
  std::string file = dir + "/libmike_metric_other.so";
  fs::copy_file(std::string(MIKE_FIXTURE_PLUGIN_DIR) + "/libmike_metric_exact.so", file);
  REQUIRE(test::run_command(seal_command(file, "metric other")).exit_code == 0);
  PluginRegistry registry;
  registry.discover({dir});
  REQUIRE(registry.records().size() == 1);
  CHECK(registry.records()[0].reason ==
        "its info says metric 'exact' but the file name says metric 'other'; rename the file to "
        "libmike_metric_exact.so");
}
