// A Hugging Face model folder's safetensors weights, single or sharded (see mike/safetensors_checkpoint.h).
#include "mike/safetensors_checkpoint.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <utility>

#include "mike/error.h"

namespace mike {

namespace {

namespace fs = std::filesystem;

// Real indexes list a few thousand tensors (~100 KB); this only stops a
// corrupt or hostile file from being read into memory whole.
constexpr std::uintmax_t kMaxIndexBytes = 100'000'000;

[[noreturn]] void index_fail(const std::string& index, const std::string& what) {
  throw ModelError("checkpoint index '" + index + "': " + what +
                   "; the download is incomplete or the index does not belong to these shards — re-download the "
                   "checkpoint (the index and all its shards) or point the config at an intact copy");
}

// A shard must be a file beside the index: a name with a separator or a
// '..' would let a hostile index read outside the checkpoint folder.
bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\\') == std::string::npos && name.find('\0') == std::string::npos;
}

nlohmann::json read_index_json(const std::string& index) {
  std::error_code ec;
  const std::uintmax_t size = fs::file_size(index, ec);
  if (ec) throw ModelError("checkpoint index '" + index + "' cannot be read: " + ec.message() + "; check the path");
  if (size > kMaxIndexBytes)
    index_fail(index, "is " + std::to_string(size) + " bytes (limit " + std::to_string(kMaxIndexBytes) + ")");
  std::ifstream in(index, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) throw ModelError("checkpoint index '" + index + "' cannot be opened; check its permissions");
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    index_fail(index, std::string("is not valid JSON (") + e.what() + ")");
  }
}

// weight_map as shard file -> tensor names it should hold (sorted both ways), after checking every value.
std::map<std::string, std::vector<std::string>> read_weight_map(const std::string& index) {
  const nlohmann::json json = read_index_json(index);
  if (!json.is_object()) index_fail(index, "is JSON but not an object with a 'weight_map'");
  if (!json.contains("weight_map")) index_fail(index, "has no 'weight_map'");
  const nlohmann::json& map = json["weight_map"];
  if (!map.is_object())
    index_fail(index, std::string("'weight_map' is not an object of tensor name -> shard file name (it is a JSON ") +
                          map.type_name() + ")");
  if (map.empty()) index_fail(index, "'weight_map' lists no tensors");
  std::map<std::string, std::vector<std::string>> by_shard;
  for (const auto& [name, shard] : map.items()) {
    if (!shard.is_string())
      index_fail(index, "'weight_map' entry '" + name + "' is " + shard.dump() + ", not a shard file name");
    const std::string file = shard.get<std::string>();
    if (!is_plain_file_name(file))
      index_fail(index, "'weight_map' entry '" + name + "' names shard '" + file +
                            "', which is not a plain file name beside the index (shards must lie in the checkpoint "
                            "folder; a hand-edited or hostile index?)");
    by_shard[file].push_back(name);
  }
  return by_shard;
}

}  // namespace

SafetensorsCheckpoint SafetensorsCheckpoint::open(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw ModelError("checkpoint directory '" + dir +
                     "' does not exist or is not a directory; point the config at the folder holding " +
                     kSingleFileName + " or " + kIndexFileName);
  const std::string single = (fs::path(dir) / kSingleFileName).string();
  const std::string index = (fs::path(dir) / kIndexFileName).string();
  const bool has_single = fs::exists(single, ec);
  const bool has_index = fs::exists(index, ec);
  if (has_single && has_index)
    throw ModelError("checkpoint directory '" + dir + "' holds both " + kSingleFileName + " and " + kIndexFileName +
                     "; mike will not guess which is current (one is usually left over from a re-save with another "
                     "shard size) — delete the stale one");
  if (!has_single && !has_index)
    throw ModelError("checkpoint directory '" + dir + "' holds neither " + kSingleFileName + " nor " + kIndexFileName +
                     "; point the config at a folder written by save_pretrained(safe_serialization="
                     "True) or `huggingface-cli download`, or convert a pytorch_model.bin checkpoint to safetensors");

  SafetensorsCheckpoint checkpoint;
  checkpoint.directory_ = dir;
  if (has_single) {
    checkpoint.source_ = single;
    checkpoint.shards_.push_back(SafetensorsReader::open(single));
    checkpoint.entries_ = checkpoint.shards_.front().entries();
    checkpoint.shard_of_.assign(checkpoint.entries_.size(), 0);
    return checkpoint;
  }

  checkpoint.source_ = index;
  const auto by_shard = read_weight_map(index);
  std::map<std::string, std::size_t> listed;  // tensor -> shard index, from the index
  std::map<std::string, std::string> stored;  // tensor -> first shard file whose header holds it
  for (const auto& [file, names] : by_shard) {
    const std::string path = (fs::path(dir) / file).string();
    if (!fs::is_regular_file(path, ec))
      index_fail(index, "shard '" + file + "' (which holds '" + names.front() + "'" +
                            (names.size() > 1 ? " and " + std::to_string(names.size() - 1) + " more tensors" : "") +
                            ") is missing from '" + dir + "'");
    SafetensorsReader reader = SafetensorsReader::open(path);
    for (const std::string& name : names)
      if (!reader.contains(name))
        index_fail(index, "tensor '" + name + "' is listed under shard '" + file + "', but '" + path +
                              "' does not hold it (it holds " + std::to_string(reader.entries().size()) + " tensors)");
    for (const SafetensorsEntry& e : reader.entries()) {
      const auto [it, fresh] = stored.emplace(e.name, file);
      if (!fresh)
        index_fail(index, "tensor '" + e.name + "' is stored in both shards '" + it->second + "' and '" + file +
                              "', so which copy is meant is ambiguous");
    }
    for (const std::string& name : names) listed.emplace(name, checkpoint.shards_.size());
    checkpoint.shards_.push_back(std::move(reader));
  }
  for (const auto& [name, shard] : listed) {  // std::map: sorted by name
    checkpoint.entries_.push_back(checkpoint.shards_[shard].entry(name));
    checkpoint.shard_of_.push_back(shard);
  }
  return checkpoint;
}

// entries_ is sorted by name.
std::vector<SafetensorsEntry>::const_iterator SafetensorsCheckpoint::lookup(const std::string& name) const {
  const auto it = std::lower_bound(entries_.begin(), entries_.end(), name,
                                   [](const SafetensorsEntry& e, const std::string& n) { return e.name < n; });
  return it != entries_.end() && it->name == name ? it : entries_.end();
}

std::size_t SafetensorsCheckpoint::find(const std::string& name) const {
  const auto it = lookup(name);
  if (it != entries_.end()) return static_cast<std::size_t>(it - entries_.begin());
  throw ModelError("checkpoint '" + source_ + "' has no tensor '" + name + "'; it holds " +
                   std::to_string(entries_.size()) + " tensors in " + std::to_string(shards_.size()) +
                   " file(s) — check the tensor name, or that the checkpoint is for this model");
}

bool SafetensorsCheckpoint::contains(const std::string& name) const { return lookup(name) != entries_.end(); }

const SafetensorsEntry& SafetensorsCheckpoint::entry(const std::string& name) const { return entries_[find(name)]; }

torch::Tensor SafetensorsCheckpoint::read(const std::string& name) const {
  return shards_[shard_of_[find(name)]].read(name);
}

void SafetensorsCheckpoint::read_into(const std::string& name, torch::Tensor destination,
                                      const ReadOptions& options) const {
  shards_[shard_of_[find(name)]].read_into(name, std::move(destination), options);
}

}  // namespace mike
