// Safetensors reader/writer (see mike/safetensors.h for the format).
#include "mike/safetensors.h"

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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
    {"F64", torch::kFloat64, 8},   {"F32", torch::kFloat32, 4}, {"F16", torch::kFloat16, 2},
    {"BF16", torch::kBFloat16, 2}, {"I64", torch::kInt64, 8},   {"I32", torch::kInt32, 4},
    {"I16", torch::kInt16, 2},     {"I8", torch::kInt8, 1},     {"U8", torch::kUInt8, 1},
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

// a * b, or false on overflow.
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

std::string dtype_name(torch::ScalarType type) {
  const DtypeInfo* d = dtype_by_type(type);
  return d ? d->name : std::string(c10::toString(type));
}

std::string shape_text(c10::IntArrayRef shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// Closes on scope exit unless released; keeps open() leak-free on its error paths.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// Reads exactly `bytes` at `offset`: pread may return fewer bytes (and Linux
// caps one call near 2 GiB) or be interrupted by a signal.
void pread_exact(int fd, void* destination, std::uint64_t bytes, std::uint64_t offset, const std::string& path,
                 const std::string& what) {
  constexpr std::uint64_t kMaxCall = std::uint64_t{1} << 30;
  auto* out = static_cast<char*>(destination);
  while (bytes > 0) {
    const ssize_t n = ::pread(fd, out, static_cast<std::size_t>(std::min(bytes, kMaxCall)), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw ModelError("checkpoint '" + path + "': reading " + what + " failed: " + std::strerror(errno));
    if (n == 0) fail(path, what + ": the file ended early (was it truncated or replaced while open?)");
    out += n;
    bytes -= static_cast<std::uint64_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
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
  if (!value.contains("dtype") || !value["dtype"].is_string())
    fail(path, where + ": 'dtype' is missing or not a string");
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

// Header bytes as JSON, after bounding the length field by the limit and the file size.
nlohmann::json read_header(int fd, const std::string& path, std::uint64_t file_size, std::uint64_t& data_start) {
  if (file_size < 8)
    fail(path, "file is " + std::to_string(file_size) + " bytes, shorter than the 8-byte header length");
  unsigned char len_bytes[8];
  pread_exact(fd, len_bytes, 8, 0, path, "the header length");
  const std::uint64_t header_bytes = read_u64_le(len_bytes);
  if (header_bytes > kMaxHeaderBytes)
    fail(path, "header length field says " + std::to_string(header_bytes) + " bytes (limit " +
                   std::to_string(kMaxHeaderBytes) + ")");
  if (header_bytes > file_size - 8)
    fail(path, "header length field says " + std::to_string(header_bytes) + " bytes but only " +
                   std::to_string(file_size - 8) + " follow (the file is truncated?)");
  std::string header(header_bytes, '\0');
  pread_exact(fd, header.data(), header_bytes, 8, path, "the " + std::to_string(header_bytes) + "-byte header");
  data_start = 8 + header_bytes;
  try {
    return nlohmann::json::parse(header);
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("header is not valid JSON (") + e.what() + ")");
  }
}

// "inf", "-inf" or "nan".
std::string non_finite_text(double value) {
  if (std::isnan(value)) return "nan";
  return value > 0 ? "inf" : "-inf";
}

// NaN/Inf count in a floating tensor, and the first one's flat index. A plain
// loop rather than isfinite(): torch's version makes chunk-sized temporaries
// (abs, two comparisons) that cost more memory than the chunk itself.
std::int64_t count_non_finite(const torch::Tensor& values, std::int64_t& first) {
  std::int64_t count = 0;
  AT_DISPATCH_FLOATING_TYPES_AND2(torch::kHalf, torch::kBFloat16, values.scalar_type(), "count_non_finite", [&] {
    using Wide = std::conditional_t<std::is_same_v<scalar_t, double>, double, float>;  // F16/BF16 fit a float
    const scalar_t* data = values.data_ptr<scalar_t>();
    const std::int64_t n = values.numel();
    for (std::int64_t i = 0; i < n; ++i)
      if (!std::isfinite(static_cast<Wide>(data[i]))) {
        if (count++ == 0) first = i;
      }
  });
  return count;
}

}  // namespace

SafetensorsReader SafetensorsReader::open(const std::string& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0)
    throw ModelError("checkpoint '" + path + "' cannot be read: " + std::strerror(errno) +
                     "; check the path and its permissions");
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0)
    throw ModelError("checkpoint '" + path + "' cannot be read: " + std::strerror(errno) + "; check the path");
  if (!S_ISREG(info.st_mode))
    throw ModelError("checkpoint '" + path +
                     "' is not a regular file; point at a .safetensors file (a Hugging Face model folder is opened "
                     "with SafetensorsCheckpoint)");
  const auto file_size = static_cast<std::uint64_t>(info.st_size);
  std::uint64_t data_start = 0;
  const nlohmann::json json = read_header(fd.get(), path, file_size, data_start);
  if (!json.is_object()) fail(path, "header is JSON but not an object of tensors");

  SafetensorsReader reader;
  reader.path_ = path;
  std::vector<Entry> entries;
  for (const auto& [name, value] : json.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) fail(path, "'__metadata__' is not an object of strings");
      for (const auto& [key, item] : value.items()) {
        if (!item.is_string()) fail(path, "'__metadata__' entry '" + key + "' is not a string");
        reader.metadata_.emplace(key, item.get<std::string>());
      }
      continue;
    }
    entries.push_back(parse_entry(path, name, value, file_size - data_start));
  }
  // Overlapping byte ranges would alias two tensors onto the same bytes.
  std::vector<const Entry*> by_offset;
  for (const Entry& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (std::size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->begin < by_offset[i - 1]->end && by_offset[i]->begin != by_offset[i]->end)
      fail(path,
           "tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap in the data section");

  // nlohmann's object keeps keys sorted, so entries_ is sorted by name already; sort anyway, lookups rely on it.
  for (Entry& e : entries)
    reader.entries_.push_back(
        {std::move(e.name), e.dtype->type, std::move(e.shape), path, data_start + e.begin, e.end - e.begin});
  std::sort(reader.entries_.begin(), reader.entries_.end(),
            [](const SafetensorsEntry& a, const SafetensorsEntry& b) { return a.name < b.name; });
  reader.fd_ = fd.release();
  return reader;
}

SafetensorsReader::SafetensorsReader(SafetensorsReader&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      entries_(std::move(other.entries_)),
      metadata_(std::move(other.metadata_)) {}

SafetensorsReader& SafetensorsReader::operator=(SafetensorsReader&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    entries_ = std::move(other.entries_);
    metadata_ = std::move(other.metadata_);
  }
  return *this;
}

SafetensorsReader::~SafetensorsReader() {
  if (fd_ >= 0) ::close(fd_);
}

bool SafetensorsReader::contains(const std::string& name) const {
  const auto it = std::lower_bound(entries_.begin(), entries_.end(), name,
                                   [](const SafetensorsEntry& e, const std::string& n) { return e.name < n; });
  return it != entries_.end() && it->name == name;
}

const SafetensorsEntry& SafetensorsReader::entry(const std::string& name) const {
  const auto it = std::lower_bound(entries_.begin(), entries_.end(), name,
                                   [](const SafetensorsEntry& e, const std::string& n) { return e.name < n; });
  if (it != entries_.end() && it->name == name) return *it;
  std::string some;
  for (std::size_t i = 0; i < entries_.size() && i < 3; ++i) some += (i ? ", '" : " (e.g. '") + entries_[i].name + "'";
  if (!some.empty()) some += ")";
  throw ModelError("checkpoint '" + path_ + "' has no tensor '" + name + "'; it holds " +
                   std::to_string(entries_.size()) + " tensors" + some +
                   " — check the tensor name, or that the checkpoint was saved by this model");
}

torch::Tensor SafetensorsReader::read(const std::string& name) const {
  const SafetensorsEntry& e = entry(name);
  torch::Tensor out = torch::empty(e.shape, torch::TensorOptions().dtype(e.dtype));
  if (e.bytes > 0) pread_exact(fd_, out.data_ptr(), e.bytes, e.offset, path_, "tensor '" + name + "'");
  return out;
}

void SafetensorsReader::read_into(const std::string& name, torch::Tensor destination,
                                  const ReadOptions& options) const {
  const SafetensorsEntry& e = entry(name);
  const std::string where = "checkpoint '" + path_ + "': tensor '" + name + "'";
  if (!destination.defined()) throw ModelError(where + ": the destination tensor is undefined");
  if (!destination.device().is_cpu())
    throw ModelError(where + ": the destination is on " + destination.device().str() +
                     "; read into a CPU tensor and move it afterwards");
  if (!destination.is_contiguous() || destination.layout() != torch::kStrided)
    throw ModelError(where + ": the destination is not a contiguous dense tensor; read into a contiguous one");
  if (!destination.sizes().equals(e.shape))
    throw ModelError(where + " has shape " + shape_text(e.shape) + " but the destination has shape " +
                     shape_text(destination.sizes()) +
                     "; the checkpoint does not match this model's configuration (check its size settings)");
  const torch::ScalarType target = destination.scalar_type();
  const bool same = target == e.dtype;
  if (!same && !(c10::isFloatingType(e.dtype) && c10::isFloatingType(target)))
    throw ModelError(where + " is stored as " + dtype_name(e.dtype) + " and cannot be read into a " +
                     dtype_name(target) + " destination: only floating dtypes (F64, F32, F16, BF16) convert into " +
                     "each other; read it into a " + dtype_name(e.dtype) + " tensor");

  // Parameters that require grad are typical destinations; writing them is loading, not a step to differentiate.
  torch::NoGradGuard no_grad;
  const std::int64_t numel = destination.numel();
  const auto source_size = static_cast<std::int64_t>(c10::elementSize(e.dtype));
  const std::int64_t chunk = std::max<std::int64_t>(1, static_cast<std::int64_t>(kChunkBytes) / source_size);
  torch::Tensor flat = destination.view({-1});
  // One buffer for every chunk of every converted tensor: extra memory is
  // O(kChunkBytes), not O(tensor). It lives for the thread: freeing and
  // re-allocating 8 MiB per tensor raises glibc's dynamic mmap threshold and
  // left ~150 MB of heap behind while a 230 MB checkpoint loaded (measured).
  static thread_local std::vector<std::uint64_t> chunk_storage;
  torch::Tensor buffer;
  if (!same && numel > 0) {
    const std::size_t words = (kChunkBytes + sizeof(std::uint64_t) - 1) / sizeof(std::uint64_t);
    if (chunk_storage.size() < words) chunk_storage.resize(words);
    buffer = torch::from_blob(chunk_storage.data(), {std::min(chunk, numel)}, torch::TensorOptions().dtype(e.dtype));
  }
  const bool check = options.require_finite && c10::isFloatingType(target);
  std::int64_t bad_count = 0;
  std::string first_bad;
  for (std::int64_t start = 0; start < numel; start += chunk) {
    const std::int64_t n = std::min(chunk, numel - start);
    torch::Tensor slice = flat.narrow(0, start, n);
    void* landing = same ? slice.data_ptr() : buffer.data_ptr();
    pread_exact(fd_, landing, static_cast<std::uint64_t>(n * source_size),
                e.offset + static_cast<std::uint64_t>(start * source_size), path_, "tensor '" + name + "'");
    if (!same) slice.copy_(buffer.narrow(0, 0, n));
    if (!check) continue;
    // Checked on the converted values: a stored value that overflows the destination dtype is caught too.
    std::int64_t first = -1;
    const std::int64_t count = count_non_finite(slice, first);
    if (count > 0 && bad_count == 0) {
      const double value = slice[first].item<double>();
      first_bad = non_finite_text(value) + " at flat index " + std::to_string(start + first);
      const double stored = same ? value : buffer[first].item<double>();
      if (std::isfinite(stored)) {
        char text[32];
        std::snprintf(text, sizeof text, "%g", stored);
        first_bad +=
            ", from the stored " + dtype_name(e.dtype) + " value " + text + " that overflows " + dtype_name(target);
      }
    }
    bad_count += count;
  }
  if (bad_count > 0)
    throw ModelError(where + " holds " + std::to_string(bad_count) + " non-finite values (first: " + first_bad +
                     "); the checkpoint is damaged or was saved after training diverged — re-download or re-create "
                     "it, or read it into a wider dtype if the values overflow");
}

SafetensorsFile load_safetensors(const std::string& path) {
  const SafetensorsReader reader = SafetensorsReader::open(path);
  SafetensorsFile out;
  out.metadata = reader.metadata();
  for (const SafetensorsEntry& e : reader.entries()) out.tensors.emplace(e.name, reader.read(e.name));
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
    if (!out)
      throw ModelError("save_safetensors: cannot create '" + tmp + "'; check the directory exists and is writable");
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
