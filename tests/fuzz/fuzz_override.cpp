// One command-line override as `mike run` receives it: the grammar
// (parse_override), the YAML typing of its value, and the top-level split a
// sweep value goes through. Only mike's own errors may come out.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/override.h"
#include "mike/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    mike::Override item = mike::parse_override(text);
    (void)mike::override_origin(item);
    if (item.op != mike::OverrideOp::remove) {
      if (mike::is_sweep_value(item.value)) (void)mike::split_top_level(item.value);
      (void)mike::parse_override_value(item);
    }
  } catch (const mike::Error&) {
  }
  return 0;
}
