#pragma once
// Writing a whole text file, the one way the host does it: to a temporary
// name in the same folder, then renamed into place, so a reader (or a crash)
// never sees a half-written file and an existing file is replaced whole.
#include <filesystem>
#include <string>

namespace mike {

// Throws mike::Error naming the path when the file cannot be written.
void write_text_file(const std::filesystem::path& path, const std::string& text);

}  // namespace mike
