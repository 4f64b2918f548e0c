#pragma once
// The plugin seal: a fixed-size footer that mike_add_plugin appends to every
// plugin file after linking (tool: mike-plugin-seal), and that the host reads
// before dlopen. dlopen maps and runs a file's code; a truncated or
// byte-flipped library can crash the host there (SIGBUS/SIGSEGV) before any
// handshake, so the file is checked as plain bytes first. ELF loaders ignore
// bytes after the section data, so a sealed file loads like an unsealed one.
//
// Layout (kPluginSealSize bytes at the very end of the file, little-endian):
//   0   u32  format version (kPluginSealFormat)
//   4   u32  SDK ABI version (kSdkAbiVersion of the SDK the plugin was built with)
//   8   u64  payload size: bytes of the file before the seal
//   16  u64  checksum of the payload: FNV-1a 64, 8-byte words (mike/hash.h add_words)
//   24  char torch_version[40]  NUL-padded TORCH_VERSION
//   64  char kind[16]           NUL-padded "model" / "editor" / "metric"
//   80  char name[96]           NUL-padded plugin name
//   176 zeros up to 232
//   232 u64  checksum of bytes 0..231 (so a flipped byte in the seal is damage too)
//   240 char magic[16] = "mike-plugin-seal" (no NUL)
#include <cstddef>
#include <cstdint>
#include <string>

namespace mike {

inline constexpr std::size_t kPluginSealSize = 256;
inline constexpr std::uint32_t kPluginSealFormat = 1;

struct PluginSeal {
  std::uint32_t format = kPluginSealFormat;
  std::uint32_t abi_version = 0;
  std::uint64_t payload_size = 0;
  std::uint64_t checksum = 0;
  std::string torch_version;
  std::string kind;
  std::string name;
};

// Appends a seal to `file` (or replaces the intact seal it already has) for
// `kind`/`name`, with the given ABI and LibTorch versions. Returns "" or why not.
std::string seal_plugin_file(const std::string& file, const std::string& kind, const std::string& name,
                             std::uint32_t abi_version, const std::string& torch_version);

// Why `file` is not an intact sealed plugin of `kind`/`name` for this host
// (kSdkAbiVersion, TORCH_VERSION), or "" if it is. Reads the file as bytes only.
std::string check_plugin_seal(const std::string& file, const std::string& kind, const std::string& name);

}  // namespace mike
