#pragma once
// Targets that need several texts (a primary config and a group file, sweep
// arguments and a YAML sweep) take them from one fuzz input separated by NUL
// bytes: NUL never occurs in a valid text, so every valid combination is
// reachable, and the dictionaries list "\x00" so mutations find the cuts.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace mike::fuzz {

inline std::vector<std::string_view> split_input(const std::uint8_t* data, std::size_t size, std::size_t max_parts) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    std::size_t cut = text.find('\0');
    if (cut == std::string_view::npos) break;
    parts.push_back(text.substr(0, cut));
    text.remove_prefix(cut + 1);
  }
  parts.push_back(text);
  return parts;
}

}  // namespace mike::fuzz
