#pragma once
// A Hugging Face model folder's weights: either one `model.safetensors` or a
// sharded `model.safetensors.index.json`, whose
//   {"metadata": {"total_size": N}, "weight_map": {"tensor.name": "model-00001-of-00002.safetensors", ...}}
// maps every tensor to the shard file beside it holding it. Opening reads the
// index and each shard's header only; tensors are read one at a time
// (SafetensorsReader), so loading a 14 GB checkpoint costs its destination
// parameters plus one conversion chunk.
#include <torch/types.h>

#include <cstddef>
#include <string>
#include <vector>

#include "mike/export.h"
#include "mike/safetensors.h"

namespace mike {

class MIKE_API SafetensorsCheckpoint {
 public:
  static constexpr const char* kSingleFileName = "model.safetensors";
  static constexpr const char* kIndexFileName = "model.safetensors.index.json";

  // Opens the folder `dir`, holding exactly one of kSingleFileName and
  // kIndexFileName. Both present is refused: transformers would silently take
  // model.safetensors, and the usual cause is a stale leftover of a re-save
  // with another shard size, so either choice may load stale weights.
  // The index is validated before any shard is read: weight_map an object of
  // plain file names inside `dir` (no '/', no '..'), every shard present,
  // every listed tensor in the shard the index names, no tensor stored in two
  // shards. Tensors a shard holds but the index does not list are ignored
  // (as transformers does): the index is the checkpoint's table of contents.
  // Throws ModelError naming the file, shard and tensor, and the fix.
  static SafetensorsCheckpoint open(const std::string& dir);

  const std::string& directory() const { return directory_; }
  // The file the checkpoint was opened from: the index or the single file.
  const std::string& source() const { return source_; }
  std::size_t shard_count() const { return shards_.size(); }
  // Every tensor over all shards, sorted by name; `file` says which shard.
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  bool contains(const std::string& name) const;
  // Throws ModelError naming the tensor and source() when absent.
  const SafetensorsEntry& entry(const std::string& name) const;
  // As SafetensorsReader::read / read_into, on the shard holding `name`.
  torch::Tensor read(const std::string& name) const;
  void read_into(const std::string& name, torch::Tensor destination, const ReadOptions& options = {}) const;

 private:
  SafetensorsCheckpoint() = default;
  std::vector<SafetensorsEntry>::const_iterator lookup(const std::string& name) const;  // end() when absent
  std::size_t find(const std::string& name) const;  // index into entries_; throws when absent

  std::string directory_;
  std::string source_;
  std::vector<SafetensorsReader> shards_;  // one open reader per shard file: file handles, no tensor data
  std::vector<SafetensorsEntry> entries_;
  std::vector<std::size_t> shard_of_;  // parallel to entries_: which reader in shards_ holds it
};

}  // namespace mike
