// mike-plugin-seal FILE KIND NAME [--abi N] [--torch VERSION]
//
// Appends the plugin seal (plugins/plugin_seal.h) to a freshly linked plugin,
// or replaces the seal it already has. mike_add_plugin runs it as a POST_BUILD
// step; it is installed with the SDK so out-of-tree plugins are sealed too.
// The ABI and LibTorch versions default to those of the SDK it was built with
// (the one the plugin was built against); --abi/--torch exist for tests that
// pin the host's refusals.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "mike/plugin.h"
#include "plugins/plugin_seal.h"

int main(int argc, char** argv) {
  const char* usage = "usage: mike-plugin-seal FILE KIND NAME [--abi N] [--torch VERSION]\n";
  if (argc < 4) {
    std::fputs(usage, stderr);
    return 2;
  }
  std::uint32_t abi = mike::kSdkAbiVersion;
  std::string torch = TORCH_VERSION;
  for (int i = 4; i < argc; i += 2) {
    std::string flag = argv[i];
    if (i + 1 >= argc || (flag != "--abi" && flag != "--torch")) {
      std::fputs(usage, stderr);
      return 2;
    }
    if (flag == "--abi")
      abi = static_cast<std::uint32_t>(std::strtoul(argv[i + 1], nullptr, 10));
    else
      torch = argv[i + 1];
  }
  std::string why = mike::seal_plugin_file(argv[1], argv[2], argv[3], abi, torch);
  if (!why.empty()) {
    std::fprintf(stderr, "mike-plugin-seal: %s: %s\n", argv[1], why.c_str());
    return 1;
  }
  return 0;
}
