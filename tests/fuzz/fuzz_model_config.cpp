// A checkpoint folder's config.json, read both ways a model load reads it:
// as a Hugging Face LLaVA-1.5 config (read_hf_llava_config) and as a native
// checkpoint's, checked against the architecture the model config asks for.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "hf_llava_config.h"
#include "llava_config.h"
#include "mike/error.h"
#include "scratch_dir.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string expected_architecture = mike::llava::LlavaConfig{}.architecture_json();
  const auto& scratch = mike::fuzz::scratch();
  scratch.write("checkpoint/config.json", std::string_view(reinterpret_cast<const char*>(data), size));
  const std::string dir = (scratch.path() / "checkpoint").string();
  try {
    (void)mike::llava::read_hf_llava_config(dir);
  } catch (const mike::Error&) {
  }
  try {
    mike::llava::check_checkpoint_architecture(dir, expected_architecture, "");
  } catch (const mike::Error&) {
  }
  return 0;
}
