#include "plugins/plugin_seal.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "mike/hash.h"
#include "mike/plugin.h"

namespace fs = std::filesystem;

namespace mike {
namespace {

constexpr char kMagic[] = "mike-plugin-seal";  // 16 characters, stored without the NUL
constexpr std::size_t kMagicOffset = kPluginSealSize - 16;
constexpr std::size_t kSelfChecksumOffset = kMagicOffset - 8;
constexpr std::size_t kTorchOffset = 24, kTorchSize = 40;
constexpr std::size_t kKindOffset = 64, kKindSize = 16;
constexpr std::size_t kNameOffset = 80, kNameSize = 96;

const std::string kNotSealed =
    "not sealed: built without mike_add_plugin, or damaged; rebuild it with mike_add_plugin";
const std::string kDamaged = "damaged (truncated or modified)";
const std::string kRebuild = "; rebuild or reinstall it";

void put_u32(unsigned char* at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<unsigned char>(v >> (8 * i));
}
void put_u64(unsigned char* at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) at[i] = static_cast<unsigned char>(v >> (8 * i));
}
std::uint32_t get_u32(const unsigned char* at) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t(at[i]) << (8 * i);
  return v;
}
std::uint64_t get_u64(const unsigned char* at) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t(at[i]) << (8 * i);
  return v;
}
// A NUL-padded text field; its last byte stays NUL.
std::string get_text(const unsigned char* at, std::size_t size) {
  const char* begin = reinterpret_cast<const char*>(at);
  return std::string(begin, strnlen(begin, size - 1));
}

std::uint64_t seal_self_checksum(const unsigned char* seal) {
  return Fnv1a64().add_words(seal, kSelfChecksumOffset).value();
}

std::string encode(const PluginSeal& seal) {
  std::string bytes(kPluginSealSize, '\0');
  auto* at = reinterpret_cast<unsigned char*>(bytes.data());
  put_u32(at, seal.format);
  put_u32(at + 4, seal.abi_version);
  put_u64(at + 8, seal.payload_size);
  put_u64(at + 16, seal.checksum);
  std::memcpy(at + kTorchOffset, seal.torch_version.data(), seal.torch_version.size());
  std::memcpy(at + kKindOffset, seal.kind.data(), seal.kind.size());
  std::memcpy(at + kNameOffset, seal.name.data(), seal.name.size());
  put_u64(at + kSelfChecksumOffset, seal_self_checksum(at));
  std::memcpy(at + kMagicOffset, kMagic, 16);
  return bytes;
}

std::string read_error(const std::string& what) {
  return "cannot read the file (" + what + "); check that it exists and is readable";
}

// Checksum of the first `size` bytes of `in`, read in 1 MiB blocks (a
// multiple of 8, so the word-wise hash equals one pass over all bytes).
bool payload_checksum(std::ifstream& in, std::uint64_t size, std::uint64_t& out) {
  Fnv1a64 hash;
  // At most 1 MiB at a time, and no more than the payload (checks run on
  // every plugin found, most far smaller).
  std::vector<char> block(static_cast<std::size_t>(std::min<std::uint64_t>(size, 1 << 20)));
  in.seekg(0);
  for (std::uint64_t left = size; left > 0;) {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, block.size()));
    if (!in.read(block.data(), static_cast<std::streamsize>(n))) return false;
    hash.add_words(block.data(), n);
    left -= n;
  }
  out = hash.value();
  return true;
}

// Reads the last kPluginSealSize bytes of `in` (a file of `size` bytes) and
// checks that they are a seal, intact in itself. "" or why not.
std::string read_seal_block(std::ifstream& in, std::uint64_t size, unsigned char* bytes) {
  if (size < kPluginSealSize)
    return size == 0 ? "an empty file (0 bytes): " + kNotSealed
                     : kNotSealed + " (" + std::to_string(size) + " bytes, shorter than a seal)";
  in.seekg(static_cast<std::streamoff>(size - kPluginSealSize));
  if (!in.read(reinterpret_cast<char*>(bytes), kPluginSealSize)) return read_error("short read");
  if (std::memcmp(bytes + kMagicOffset, kMagic, 16) != 0) return kNotSealed;
  if (get_u64(bytes + kSelfChecksumOffset) != seal_self_checksum(bytes))
    return kDamaged + ": its seal (the last " + std::to_string(kPluginSealSize) + " bytes) is corrupt" + kRebuild;
  return "";
}

// Reads and verifies the seal of `file` against the file's own bytes (not
// yet against this host). "" and `seal` filled, or why not.
std::string read_intact_seal(const std::string& file, PluginSeal& seal) {
  std::error_code ec;
  std::uint64_t size = fs::file_size(file, ec);
  if (ec) return read_error(ec.message());
  std::ifstream in(file, std::ios::binary);
  if (!in) return read_error(std::strerror(errno));
  unsigned char bytes[kPluginSealSize];
  if (std::string why = read_seal_block(in, size, bytes); !why.empty()) return why;
  seal.format = get_u32(bytes);
  if (seal.format != kPluginSealFormat)
    return "sealed with seal format " + std::to_string(seal.format) + ", but this mike reads seal format " +
           std::to_string(kPluginSealFormat) + "; rebuild the plugin against this mike's SDK";
  seal.abi_version = get_u32(bytes + 4);
  seal.payload_size = get_u64(bytes + 8);
  seal.checksum = get_u64(bytes + 16);
  seal.torch_version = get_text(bytes + kTorchOffset, kTorchSize);
  seal.kind = get_text(bytes + kKindOffset, kKindSize);
  seal.name = get_text(bytes + kNameOffset, kNameSize);
  if (seal.payload_size != size - kPluginSealSize)
    return kDamaged + ": its seal says " + std::to_string(seal.payload_size) + " bytes before the seal, the file has " +
           std::to_string(size - kPluginSealSize) + kRebuild;
  std::uint64_t checksum = 0;
  if (!payload_checksum(in, seal.payload_size, checksum)) return read_error("short read");
  if (checksum != seal.checksum)
    return kDamaged + ": checksum " + Fnv1a64(checksum).hex() + ", but its seal says " + Fnv1a64(seal.checksum).hex() +
           kRebuild;
  return "";
}

}  // namespace

std::string seal_plugin_file(const std::string& file, const std::string& kind, const std::string& name,
                             std::uint32_t abi_version, const std::string& torch_version) {
  if (kind.empty() || kind.size() >= kKindSize) return "kind '" + kind + "' is empty or too long";
  if (name.empty() || name.size() >= kNameSize)
    return "name '" + name + "' is empty or longer than " + std::to_string(kNameSize - 1) + " characters";
  if (torch_version.size() >= kTorchSize) return "LibTorch version '" + torch_version + "' is too long";
  PluginSeal seal;
  std::error_code ec;
  std::uint64_t size = fs::file_size(file, ec);
  if (ec) return read_error(ec.message());
  {
    std::ifstream in(file, std::ios::binary);
    if (!in) return read_error(std::strerror(errno));
    // Sealing again replaces the old seal instead of sealing it in: after a
    // re-seal, and at install, where CMake rewrites the RPATH in place.
    unsigned char old[kPluginSealSize];
    if (read_seal_block(in, size, old).empty() && get_u64(old + 8) == size - kPluginSealSize) {
      in.close();
      size -= kPluginSealSize;
      fs::resize_file(file, size, ec);
      if (ec) return "cannot remove its old seal: " + ec.message();
      in.open(file, std::ios::binary);
    }
    in.clear();
    if (!in || !payload_checksum(in, size, seal.checksum)) return read_error(std::strerror(errno));
  }
  seal.format = kPluginSealFormat;
  seal.abi_version = abi_version;
  seal.payload_size = size;
  seal.torch_version = torch_version;
  seal.kind = kind;
  seal.name = name;
  std::ofstream out(file, std::ios::binary | std::ios::app);
  std::string bytes = encode(seal);
  if (!out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())) || !out.flush())
    return "cannot append the seal: " + std::string(std::strerror(errno));
  return "";
}

std::string check_plugin_seal(const std::string& file, const std::string& kind, const std::string& name) {
  PluginSeal seal;
  if (std::string why = read_intact_seal(file, seal); !why.empty()) return why;
  // The same words as the handshake after dlopen, which stays as a second check.
  if (seal.abi_version != kSdkAbiVersion)
    return "built for SDK ABI " + std::to_string(seal.abi_version) + " (its seal), but this mike has SDK ABI " +
           std::to_string(kSdkAbiVersion) + "; rebuild the plugin against this mike's SDK";
  if (seal.torch_version != TORCH_VERSION)
    return "built with LibTorch " + seal.torch_version + " (its seal), but this mike uses LibTorch " TORCH_VERSION
           "; rebuild the plugin against the same LibTorch";
  if (seal.kind != kind || seal.name != name)
    return "its seal says " + seal.kind + " '" + seal.name + "' but the file name says " + kind + " '" + name +
           "'; rename the file to libmike_" + seal.kind + "_" + seal.name + ".so";
  return "";
}

}  // namespace mike
