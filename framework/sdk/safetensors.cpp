// Safetensors reader/writer (see mike/safetensors.h for the format).
#include "mike/safetensors.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <unistd.h>
#include <vector>

#include "mike/error.h"

namespace mike {

namespace {

// The reference implementation refuses headers above 100 MB; so do we, which
// also keeps a corrupt length field from triggering a huge allocation.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

struct DtypeInfo {
  const char* name;
  torch::ScalarType type;
  std::uint64_t bytes;
};

constexpr DtypeInfo kDtypes[] = {
    {"F64", torch::kFloat64, 8}, {"F32", torch::kFloat32, 4}, {"F16", torch::kFloat16, 2},
    {"BF16", torch::kBFloat16, 2}, {"I64", torch::kInt64, 8}, {"I32", torch::kInt32, 4},
    {"I16", torch::kInt16, 2},   {"I8", torch::kInt8, 1},     {"U8", torch::kUInt8, 1},
    {"BOOL", torch::kBool, 1},
};

const DtypeInfo* dtype_by_name(const std::string& name) {
  for (const DtypeInfo& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

const DtypeInfo* dtype_by_type(torch::ScalarType type) {
  for (const DtypeInfo& d : kDtypes)
    if (type == d.type) return &d;
  return nullptr;
}

std::string supported_dtypes() {
  std::string out;
  for (const DtypeInfo& d : kDtypes) out += (out.empty() ? "" : ", ") + std::string(d.name);
  return out;
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw ModelError("checkpoint '" + path + "': " + what +
                   "; the file is damaged or not a safetensors file — re-create it (e.g. rerun `mike pretrain`) "
                   "or point the config at an intact copy");
}

// a * b, or nullopt-like false on overflow.
bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return false;
  out = a * b;
  return true;
}

std::uint64_t read_u64_le(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

struct Entry {
  std::string name;
  const DtypeInfo* dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t begin, end;
};

Entry parse_entry(const std::string& path, const std::string& name, const nlohmann::json& value,
                  std::uint64_t data_bytes) {
  const std::string where = "tensor '" + name + "'";
  if (name.empty()) fail(path, "a tensor has an empty name");
  if (!value.is_object()) fail(path, where + ": header entry is not a JSON object");
  for (const auto& [field, unused] : value.items()) {
    (void)unused;
    if (field != "dtype" && field != "shape" && field != "data_offsets")
      fail(path, where + ": unknown header field '" + field + "' (expected dtype, shape, data_offsets)");
  }
  Entry e{name, nullptr, {}, 0, 0};
  if (!value.contains("dtype") || !value["dtype"].is_string()) fail(path, where + ": 'dtype' is missing or not a string");
  const std::string dtype = value["dtype"].get<std::string>();
  e.dtype = dtype_by_name(dtype);
  if (!e.dtype) fail(path, where + ": unsupported dtype '" + dtype + "' (supported: " + supported_dtypes() + ")");
  if (!value.contains("shape") || !value["shape"].is_array()) fail(path, where + ": 'shape' is missing or not a list");
  std::uint64_t numel = 1;
  for (const auto& dim : value["shape"]) {
    if (!dim.is_number_unsigned()) fail(path, where + ": 'shape' holds " + dim.dump() + ", not a non-negative integer");
    const std::uint64_t d = dim.get<std::uint64_t>();
    if (d > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) || !checked_mul(numel, d, numel))
      fail(path, where + ": 'shape' " + value["shape"].dump() + " overflows");
    e.shape.push_back(static_cast<std::int64_t>(d));
  }
  const auto& offsets = value.contains("data_offsets") ? value["data_offsets"] : nlohmann::json();
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    fail(path, where + ": 'data_offsets' must be [begin, end] with non-negative integers, got " + offsets.dump());
  e.begin = offsets[0].get<std::uint64_t>();
  e.end = offsets[1].get<std::uint64_t>();
  if (e.begin > e.end) fail(path, where + ": data_offsets " + offsets.dump() + " has begin > end");
  if (e.end > data_bytes)
    fail(path, where + ": data_offsets " + offsets.dump() + " reach past the end of the data section (" +
                   std::to_string(data_bytes) + " bytes; the file is truncated?)");
  std::uint64_t expected = 0;
  if (!checked_mul(numel, e.dtype->bytes, expected) || expected != e.end - e.begin)
    fail(path, where + ": data_offsets " + offsets.dump() + " span " + std::to_string(e.end - e.begin) +
                   " bytes but dtype " + dtype + " with shape " + value["shape"].dump() + " needs " +
                   std::to_string(expected));
  return e;
}

}  // namespace

SafetensorsFile load_safetensors(const std::string& path) {
  std::error_code ec;
  const auto file_size = std::filesystem::file_size(path, ec);
  if (ec) throw ModelError("checkpoint '" + path + "' cannot be read: " + ec.message() + "; check the path");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError("checkpoint '" + path + "' cannot be opened; check the path and its permissions");
  if (file_size < 8) fail(path, "file is " + std::to_string(file_size) + " bytes, shorter than the 8-byte header length");
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  const std::uint64_t header_bytes = read_u64_le(len_bytes);
  if (header_bytes > kMaxHeaderBytes)
    fail(path, "header length field says " + std::to_string(header_bytes) + " bytes (limit " +
                   std::to_string(kMaxHeaderBytes) + ")");
  if (header_bytes > file_size - 8)
    fail(path, "header length field says " + std::to_string(header_bytes) + " bytes but only " +
                   std::to_string(file_size - 8) + " follow (the file is truncated?)");
  std::string header(header_bytes, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_bytes));
  if (!in) fail(path, "could not read the " + std::to_string(header_bytes) + "-byte header");

  nlohmann::json json;
  try {
    json = nlohmann::json::parse(header);
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("header is not valid JSON (") + e.what() + ")");
  }
  if (!json.is_object()) fail(path, "header is JSON but not an object of tensors");

  const std::uint64_t data_start = 8 + header_bytes;
  const std::uint64_t data_bytes = file_size - data_start;
  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [name, value] : json.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) fail(path, "'__metadata__' is not an object of strings");
      for (const auto& [key, item] : value.items()) {
        if (!item.is_string()) fail(path, "'__metadata__' entry '" + key + "' is not a string");
        out.metadata.emplace(key, item.get<std::string>());
      }
      continue;
    }
    entries.push_back(parse_entry(path, name, value, data_bytes));
  }
  // Overlapping byte ranges would alias two tensors onto the same bytes.
  std::vector<const Entry*> by_offset;
  for (const Entry& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (std::size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->begin < by_offset[i - 1]->end && by_offset[i]->begin != by_offset[i]->end)
      fail(path, "tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap in the data section");

  for (const Entry& e : entries) {
    torch::Tensor t = torch::empty(e.shape, torch::TensorOptions().dtype(e.dtype->type));
    const std::uint64_t bytes = e.end - e.begin;
    if (bytes > 0) {
      in.seekg(static_cast<std::streamoff>(data_start + e.begin));
      in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(bytes));
      if (!in) fail(path, "tensor '" + e.name + "': could not read its " + std::to_string(bytes) + " bytes");
    }
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

void save_safetensors(const std::string& path, const TensorMap& tensors, const SafetensorsMetadata& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) {
    nlohmann::json meta = nlohmann::json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header["__metadata__"] = meta;
  }
  std::vector<torch::Tensor> data;
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty() || name == "__metadata__")
      throw ModelError("save_safetensors('" + path + "'): invalid tensor name '" + name + "'");
    if (!tensor.defined()) throw ModelError("save_safetensors('" + path + "'): tensor '" + name + "' is undefined");
    const DtypeInfo* dtype = dtype_by_type(tensor.scalar_type());
    if (!dtype)
      throw ModelError("save_safetensors('" + path + "'): tensor '" + name + "' has dtype " +
                       std::string(c10::toString(tensor.scalar_type())) + ", not one of " + supported_dtypes());
    torch::Tensor cpu = tensor.detach().to(torch::kCPU).contiguous();
    const std::uint64_t bytes = static_cast<std::uint64_t>(cpu.numel()) * dtype->bytes;
    header[name] = {{"dtype", dtype->name}, {"shape", cpu.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(std::move(cpu));
  }
  std::string text = header.dump();
  // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
  while ((text.size() + 8) % 8 != 0) text.push_back(' ');

  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw ModelError("save_safetensors: cannot create '" + tmp + "'; check the directory exists and is writable");
    unsigned char len_bytes[8];
    std::uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>((n >> (8 * i)) & 0xff);
    out.write(reinterpret_cast<const char*>(len_bytes), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const torch::Tensor& t : data)
      out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw ModelError("save_safetensors: writing '" + tmp + "' failed (disk full?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw ModelError("save_safetensors: cannot move '" + tmp + "' to '" + path + "': " + ec.message());
  }
}

}  // namespace mike
