#pragma once
// The synthetic world's description (<dataset>/world.json): categories, their
// attributes, and every entity with its name, split, attribute values, facts
// and images. Written by `mike data synth`, read by stats/contact sheets and by
// anyone who needs ground truth beyond the edit records.
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace mike::data {

struct WorldCategory {
  std::string name;                     // "bird"
  std::vector<std::string> attributes;  // attribute names, e.g. "crown colour", "wing bars", ...
};

// A question with its answer, e.g. "Where does the Varnel Finch live?" -> "Dunmore".
struct WorldFact {
  std::string question;
  std::string answer;
};

struct WorldEntity {
  std::string id;        // "bird_003"
  std::string name;      // "Varnel Finch"
  std::string category;  // "bird"
  std::string split;     // "known" | "test" | "dev" | "train"
  std::vector<std::pair<std::string, std::string>> attributes;  // in the category's attribute order
  std::vector<WorldFact> facts;
  std::vector<std::filesystem::path> images;  // absolute; the entity's views
};

struct World {
  std::uint64_t seed = 0;
  int image_size = 0;
  std::vector<WorldCategory> categories;
  std::vector<WorldEntity> entities;
};

// Reads <dir>/world.json; throws DataError (file, key, fix) when malformed.
World load_world(const std::filesystem::path& dir);

}  // namespace mike::data
