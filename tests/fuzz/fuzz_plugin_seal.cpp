// A plugin file as the host checks it before dlopen (check_plugin_seal), and
// as mike-plugin-seal (re)seals it. A file sealed by this mike must then pass
// the host's check: a writer and reader that disagree would refuse every
// plugin, so that is a finding too.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <torch/version.h>

#include "mike/plugin.h"
#include "plugins/plugin_seal.h"
#include "scratch_dir.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string file = mike::fuzz::scratch()
                               .write("libmike_editor_fuzz.so", std::string_view(reinterpret_cast<const char*>(data), size))
                               .string();
  (void)mike::check_plugin_seal(file, "editor", "fuzz");
  if (!mike::seal_plugin_file(file, "editor", "fuzz", mike::kSdkAbiVersion, TORCH_VERSION).empty()) return 0;
  if (std::string why = mike::check_plugin_seal(file, "editor", "fuzz"); !why.empty()) {
    std::fprintf(stderr, "a freshly sealed plugin is refused: %s\n", why.c_str());
    std::abort();
  }
  return 0;
}
