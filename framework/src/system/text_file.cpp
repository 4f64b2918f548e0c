#include "system/text_file.h"

#include <unistd.h>

#include <fstream>

#include "mike/error.h"

namespace mike {

void write_text_file(const std::filesystem::path& path, const std::string& text) {
  namespace fs = std::filesystem;
  const fs::path temporary = path.string() + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      std::error_code ignored;
      fs::remove(temporary, ignored);
      throw Error("cannot write '" + path.string() + "'; check that the folder exists, is writable and has free space");
    }
  }
  std::error_code error;
  fs::rename(temporary, path, error);
  if (error) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    throw Error("cannot write '" + path.string() + "' (" + error.message() + "); check the folder's permissions");
  }
}

}  // namespace mike
