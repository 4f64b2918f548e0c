#pragma once
// Safetensors checkpoints: the one tensor I/O path of mike (model weights,
// editor state, caches). Format (https://github.com/huggingface/safetensors):
//   8 bytes   little-endian uint64 N = header length
//   N bytes   JSON: {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//                    "__metadata__": {"key": "value", ...}}
//   rest      raw little-endian tensor bytes; offsets are relative to its start
//
// The reader validates every header field and every offset against the file
// size before touching tensor bytes, so a truncated or malformed file ends in
// one mike::ModelError naming the file, the tensor and the field, never a crash.
#include <torch/types.h>

#include <map>
#include <string>

#include "mike/export.h"

namespace mike {

// Name -> tensor, sorted by name (the order tensors are written in).
using TensorMap = std::map<std::string, torch::Tensor>;
// Free-form string metadata stored in the header's "__metadata__" entry.
using SafetensorsMetadata = std::map<std::string, std::string>;

struct SafetensorsFile {
  TensorMap tensors;           // CPU, contiguous, dtype as stored
  SafetensorsMetadata metadata;
};

// Writes `tensors` (any device/layout; copied to contiguous CPU) to `path`
// atomically (a temporary file renamed into place). Supported dtypes: F64,
// F32, F16, BF16, I64, I32, I16, I8, U8, BOOL. Throws ModelError on an
// unsupported dtype or an I/O failure.
MIKE_API void save_safetensors(const std::string& path, const TensorMap& tensors,
                               const SafetensorsMetadata& metadata = {});

// Reads and validates `path`; throws ModelError describing the first problem.
MIKE_API SafetensorsFile load_safetensors(const std::string& path);

}  // namespace mike
