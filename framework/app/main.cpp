// `mike`: the command-line host. Parses global options, dispatches to a
// subcommand, and turns every mike::Error into one message and exit code.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>

#include "commands.h"
#include "log/logging.h"
#include "mike/error.h"
#include "mike/plugin.h"
#include "system/allocator_tuning.h"
#include "system/build_info.h"

namespace po = boost::program_options;

namespace mike::cli {

namespace {

struct Subcommand {
  int (*run)(const std::vector<std::string>&, CommonOptions&);
  const char* summary;
};

const std::map<std::string, Subcommand>& subcommands() {
  static const std::map<std::string, Subcommand> table = {
      {"run", {cmd_run, "compose a config and run an edit/evaluate experiment (or a sweep with -m)"}},
      {"data", {cmd_data, "make, validate and inspect datasets (synth, validate, stats)"}},
      {"fit", {cmd_fit, "train a trained editor (MEND, SERAC, KE) on the train split and cache it"}},
      {"pretrain", {cmd_pretrain, "pretrain a model preset on the synthetic world"}},
      {"human", {cmd_human, "human evaluation of ELC captions: a blinded rating sheet (export), its ratings scored (import)"}},
      {"report", {cmd_report, "collect run/sweep results into tables and plots"}},
      {"plugins", {cmd_plugins, "list discovered plugins, or show one (list, info NAME)"}},
      {"sweep", {cmd_sweep, "show the state of a sweep's jobs (status DIR)"}},
      {"model", {cmd_model, "smoke-test a model: score a target or generate for one prompt (score, generate, describe)"}},
  };
  return table;
}

std::string usage() {
  std::string text =
      "usage: mike [--version] [--help] [-v|-q] [--plugin-path DIR] <command> [args]\n\ncommands:\n";
  for (const auto& [name, sub] : subcommands()) {
    text += "  " + name + std::string(10 - name.size(), ' ') + sub.summary + "\n";
  }
  text +=
      "\ncommon options:\n"
      "  -v, --verbose         more log output (repeat for trace)\n"
      "  -q, --quiet           warnings and errors only\n"
      "  --plugin-path DIR     search DIR for plugins first (repeatable; ':'-separated)\n"
      "\n`mike <command> --help` shows a command's own options.\n";
  return text;
}

void print_version() {
  BlasInfo blas = detect_blas();
  std::printf("mike %s (git %s%s)\n", mike_version(), git_sha(), git_dirty() ? ", dirty" : "");
  std::printf("SDK ABI %u\n", kSdkAbiVersion);
  std::printf("LibTorch %s\n", torch_version());
  std::printf("CUDA %s\n", cuda_summary().c_str());
  std::printf("BLAS %s%s%s\n", blas.vendor.c_str(), blas.library.empty() ? "" : " at ", blas.library.c_str());
  const int cores = configure_threads(0);
  std::printf("threads auto (the default): 1 for a model under %lld parameters, else %d (one per core); "
              "OpenBLAS's pool follows LibTorch's (%d now)\n",
              static_cast<long long>(kOneThreadBelowParameters), cores, blas_threads());
  if (blas.is_reference) {
    std::fflush(stdout);
    spdlog::warn(
        "LibTorch is using the reference BLAS ({}), which is about 20x slower than OpenBLAS here. "
        "Fix: apt-get install libopenblas0-pthread (./bootstrap.sh does), then "
        "update-alternatives --set libblas.so.3-x86_64-linux-gnu "
        "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3",
        blas.library);
  }
}

int main_impl(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // Global options are those before the first non-option token (the command).
  std::size_t command_index = 0;
  while (command_index < args.size()) {
    const std::string& a = args[command_index];
    if (a.empty() || a[0] != '-') break;
    if ((a == "--plugin-path" || a == "-p") && command_index + 1 < args.size()) ++command_index;
    ++command_index;
  }
  std::vector<std::string> global(args.begin(), args.begin() + command_index);

  CommonOptions common;
  po::options_description desc("mike");
  desc.add_options()("help,h", "show help")("version", "show version, git sha, LibTorch and BLAS");
  po::positional_options_description none;
  po::variables_map vm = parse_command("mike", global, desc, none, common);
  init_logging(common.verbosity);

  if (vm.count("version")) {
    print_version();
    return 0;
  }
  if (vm.count("help") || command_index >= args.size()) {
    std::cout << usage();
    return command_index >= args.size() && !vm.count("help") ? 2 : 0;
  }
  const std::string& command = args[command_index];
  auto it = subcommands().find(command);
  if (it == subcommands().end()) {
    std::string names;
    for (const auto& [name, sub] : subcommands()) names += (names.empty() ? "" : ", ") + name;
    throw UsageError("unknown command '" + command + "'; available commands: " + names + "\n\n" + usage());
  }
  std::vector<std::string> rest(args.begin() + command_index + 1, args.end());
  return it->second.run(rest, common);
}

}  // namespace

}  // namespace mike::cli

namespace {
// Ends the process without static destructors: LibTorch's teardown and the
// plugins' unloading took ~0.25 s of a 2.5 s default run (results/perf).
// Every file a command writes is closed by the time it returns (RAII inside
// the commands); the logs and stdio are flushed here.
[[noreturn]] void exit_now(int rc) {
  spdlog::shutdown();
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  std::_Exit(rc);
}
}  // namespace

int main(int argc, char** argv) {
  mike::tune_allocator();
  int rc = 1;
  try {
    rc = mike::cli::main_impl(argc, argv);
  } catch (const mike::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "mike: error: %s\n", e.what());
    rc = e.exit_code();
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "mike: internal error: %s\n(this is a bug in mike; please report it with the command line)\n",
                 e.what());
    rc = 1;
  }
  exit_now(rc);
}
