// The `mike` executable: help, version, subcommand errors, plugin listing.
#include <doctest/doctest.h>

#include "process.h"

using mike::test::run_mike;

namespace {
bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}
const std::string kFixtures = std::string("--plugin-path ") + MIKE_FIXTURE_PLUGIN_DIR;
}  // namespace

TEST_CASE("--help lists the subcommands and exits 0") {
  auto r = run_mike("--help");
  CHECK(r.exit_code == 0);
  for (const char* command : {"run", "data", "pretrain", "report", "plugins"}) CHECK(contains(r.out, command));
}

TEST_CASE("--version names mike, git, LibTorch and the BLAS in use") {
  auto r = run_mike("--version");
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "mike 0.1.0 (git "));
  CHECK(contains(r.out, "LibTorch 1.13"));
  // bootstrap.sh installs OpenBLAS and selects it; the reference BLAS would warn here.
  CHECK(contains(r.out, "BLAS OpenBLAS"));
  CHECK_FALSE(contains(r.err, "reference BLAS"));
}

TEST_CASE("unknown subcommands and options exit 2 with the error and usage") {
  auto r = run_mike("frobnicate");
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "mike: error: unknown command 'frobnicate'; available commands: data, fit, human, "
                        "model, plugins, pretrain, report, run, sweep"));
  CHECK(contains(r.err, "usage: mike"));
  auto o = run_mike("--bogus");
  CHECK(o.exit_code == 2);
  CHECK(contains(o.err, "mike: error: mike: unrecognised option '--bogus'"));
  auto p = run_mike("plugins list --colour");
  CHECK(p.exit_code == 2);
  CHECK(contains(p.err, "plugins: unrecognised option '--colour'"));
  auto none = run_mike("");
  CHECK(none.exit_code == 2);
  CHECK(contains(none.out, "usage: mike"));
}

TEST_CASE("plugins list shows every plugin with its status and why it was refused") {
  auto r = run_mike("plugins list " + kFixtures);
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "model   toy              0.3.0    ok        " MIKE_FIXTURE_PLUGIN_DIR "/libmike_model_toy.so"));
  CHECK(contains(r.out, "editor  bad_abi          -        refused   "));
  CHECK(contains(r.out, "why: built for SDK ABI 999"));
  CHECK(contains(r.out, "metric  no_info          -        refused   "));
  CHECK(contains(r.err, "refused " MIKE_FIXTURE_PLUGIN_DIR "/libmike_editor_bad_torch.so"));
  auto quiet = run_mike("-q -q plugins list " + kFixtures);  // errors only
  CHECK(quiet.exit_code == 0);
  CHECK(quiet.err.empty());
}

TEST_CASE("MIKE_PLUGIN_PATH is searched like --plugin-path") {
  auto r = mike::test::run_command(std::string("MIKE_PLUGIN_PATH=/nonexistent:") + MIKE_FIXTURE_PLUGIN_DIR + " " +
                                   MIKE_EXE + " plugins list");
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "metric  exact            0.1.0    ok"));
}

TEST_CASE("plugins info prints description and default config; a model describes itself") {
  auto r = run_mike("plugins info toy " + kFixtures);
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "model toy 0.3.0\n  Byte-level bigram model for host tests\n"));
  CHECK(contains(r.out, "default config:\ninit_scale: 0.0\nseed: 0\n"));
  CHECK(contains(r.out, "architecture:\ntoy bigram model: 1 layer, 256x256, 65536 parameters"));
  auto missing = run_mike("plugins info nothing_here " + kFixtures);
  CHECK(missing.exit_code == 2);
  CHECK(contains(missing.err, "plugins info: no plugin named 'nothing_here'; see `mike plugins list`"));
  auto refused = run_mike("plugins info bad_abi " + kFixtures);
  CHECK(refused.exit_code == 4);
  CHECK(contains(refused.out, "status:   refused — built for SDK ABI 999"));
}
