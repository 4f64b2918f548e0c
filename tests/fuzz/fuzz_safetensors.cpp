// A safetensors file as a checkpoint load reads it: the header is opened and
// validated, then every tensor is read as stored and, for floating dtypes,
// converted into float32 with the finiteness check a model load asks for.
#include <torch/torch.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mike/error.h"
#include "mike/safetensors.h"
#include "scratch_dir.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = mike::fuzz::scratch().write("model.safetensors",
                                                std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    const mike::SafetensorsReader reader = mike::SafetensorsReader::open(file.string());
    for (const mike::SafetensorsEntry& entry : reader.entries()) {
      (void)reader.read(entry.name);
      if (torch::isFloatingType(entry.dtype)) {
        torch::Tensor destination = torch::empty(entry.shape, torch::kFloat32);
        reader.read_into(entry.name, destination, mike::ReadOptions{.require_finite = true});
      }
    }
  } catch (const mike::Error&) {
  }
  return 0;
}
