// `mike human import`: NUL-separated, the key.csv of a rating sheet, then up
// to 3 ratings CSVs, read from files as the command reads them (the RFC 4180
// reader, the key and rating checks, agreement, bootstrap and Spearman on
// whatever passes). Only mike's own errors may come out.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "human/human_scores.h"
#include "input_parts.h"
#include "mike/error.h"
#include "scratch_dir.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = mike::fuzz::split_input(data, size, 4);
  const auto& dir = mike::fuzz::scratch();
  const std::filesystem::path key = dir.write("key.csv", parts[0]);
  std::vector<std::filesystem::path> ratings;
  for (std::size_t i = 1; i < parts.size(); ++i)
    ratings.push_back(dir.write("ratings" + std::to_string(i) + ".csv", parts[i]));
  try {
    (void)mike::import_ratings(ratings, key);
  } catch (const mike::Error&) {
  }
  for (std::size_t i = 1; i < 4; ++i) dir.remove("ratings" + std::to_string(i) + ".csv");
  return 0;
}
