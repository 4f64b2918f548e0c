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

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mike/export.h"

namespace mike {

// Name -> tensor, sorted by name (the order tensors are written in).
using TensorMap = std::map<std::string, torch::Tensor>;
// Free-form string metadata stored in the header's "__metadata__" entry.
using SafetensorsMetadata = std::map<std::string, std::string>;

struct SafetensorsFile {
  TensorMap tensors;  // CPU, contiguous, dtype as stored
  SafetensorsMetadata metadata;
};

// One tensor as the header describes it; no bytes read.
struct SafetensorsEntry {
  std::string name;
  torch::ScalarType dtype;  // as stored
  std::vector<std::int64_t> shape;
  std::string file;      // the .safetensors file holding it
  std::uint64_t offset;  // absolute byte offset of its data in `file`
  std::uint64_t bytes;   // numel * element size
};

struct ReadOptions {
  // Refuse a tensor holding NaN or Inf (checked after conversion, so a value
  // that overflows the destination dtype is refused too).
  bool require_finite = false;
};

// One safetensors file, opened lazily: open() reads and validates the header
// only and keeps the file descriptor; tensors are read one at a time with
// pread, so a reader costs its header's size, not its tensors'. Move-only;
// reads do not move a file position, so const reads may run concurrently.
class MIKE_API SafetensorsReader {
 public:
  // Source bytes converted per step by read_into: its extra memory is about
  // this much, whatever the tensor's size.
  static constexpr std::size_t kChunkBytes = std::size_t{8} << 20;

  // Reads and validates the header of `path` (length bounds, JSON, dtypes,
  // shape overflow, offsets inside the data, sizes, no overlap); throws
  // ModelError describing the first problem. Reads no tensor bytes.
  static SafetensorsReader open(const std::string& path);

  SafetensorsReader(SafetensorsReader&& other) noexcept;
  SafetensorsReader& operator=(SafetensorsReader&& other) noexcept;
  SafetensorsReader(const SafetensorsReader&) = delete;
  SafetensorsReader& operator=(const SafetensorsReader&) = delete;
  ~SafetensorsReader();

  const std::string& path() const { return path_; }
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }  // sorted by name
  const SafetensorsMetadata& metadata() const { return metadata_; }
  bool contains(const std::string& name) const;
  // Throws ModelError naming the tensor and the file when absent.
  const SafetensorsEntry& entry(const std::string& name) const;

  // A fresh contiguous CPU tensor of the stored dtype.
  torch::Tensor read(const std::string& name) const;
  // Reads `name` into `destination`, a contiguous CPU tensor of the entry's
  // shape, converting the stored dtype to the destination's on the way in
  // kChunkBytes steps (floating <-> floating: F64, F32, F16, BF16; any other
  // dtype only into the same dtype). Throws ModelError naming the tensor, the
  // file and both shapes/dtypes on a mismatch. On a throw after reading began
  // (I/O error, require_finite) the destination's contents are unspecified.
  void read_into(const std::string& name, torch::Tensor destination, const ReadOptions& options = {}) const;

 private:
  SafetensorsReader() = default;

  std::string path_;
  int fd_ = -1;
  std::vector<SafetensorsEntry> entries_;
  SafetensorsMetadata metadata_;
};

// Writes `tensors` (any device/layout; copied to contiguous CPU) to `path`
// atomically (a temporary file renamed into place). Supported dtypes: F64,
// F32, F16, BF16, I64, I32, I16, I8, U8, BOOL. Throws ModelError on an
// unsupported dtype or an I/O failure.
MIKE_API void save_safetensors(const std::string& path, const TensorMap& tensors,
                               const SafetensorsMetadata& metadata = {});

// Reads and validates `path` (every tensor, into memory; see SafetensorsReader
// to read one at a time); throws ModelError describing the first problem.
MIKE_API SafetensorsFile load_safetensors(const std::string& path);

}  // namespace mike
