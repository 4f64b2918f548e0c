#include "data/world.h"

#include <nlohmann/json.hpp>

#include <fstream>

#include "mike/error.h"

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;

namespace mike::data {

namespace {

[[noreturn]] void fail(const fs::path& file, const std::string& key, const std::string& what) {
  throw DataError(file.string() + ": key '" + key + "': " + what +
                  "; fix: regenerate the world with `mike data synth --out " + file.parent_path().string() + "`");
}

const ordered_json& need(const ordered_json& parent, const std::string& key, const std::string& path,
                         const fs::path& file, ordered_json::value_t type) {
  auto it = parent.find(key);
  if (it == parent.end()) fail(file, path, "missing");
  bool ok = it->type() == type || (type == ordered_json::value_t::number_integer && it->is_number_integer());
  if (!ok) fail(file, path, std::string("has the wrong type (") + it->type_name() + ")");
  return *it;
}

std::string need_string(const ordered_json& parent, const std::string& key, const std::string& path,
                        const fs::path& file) {
  return need(parent, key, path, file, ordered_json::value_t::string).get<std::string>();
}

}  // namespace

World load_world(const fs::path& dir) {
  fs::path file = dir / "world.json";
  std::ifstream in(file);
  if (!in) {
    throw DataError(file.string() + ": file does not exist; fix: a mike dataset folder needs world.json, "
                    "which `mike data synth --out " + dir.string() + "` writes");
  }
  ordered_json root;
  try {
    root = ordered_json::parse(in);
  } catch (const ordered_json::parse_error& e) {
    throw DataError(file.string() + ": not valid JSON (" + e.what() + "); fix: regenerate it with `mike data synth`");
  }
  if (!root.is_object()) fail(file, "", "the top level must be an object");
  World world;
  const auto& seed = need(root, "seed", "seed", file, ordered_json::value_t::number_integer);
  world.seed = seed.get<std::uint64_t>();
  world.image_size = need(root, "image_size", "image_size", file, ordered_json::value_t::number_integer).get<int>();
  const auto& categories = need(root, "categories", "categories", file, ordered_json::value_t::array);
  for (std::size_t i = 0; i < categories.size(); ++i) {
    std::string path = "categories[" + std::to_string(i) + "]";
    WorldCategory category;
    category.name = need_string(categories[i], "name", path + ".name", file);
    const auto& attributes = need(categories[i], "attributes", path + ".attributes", file, ordered_json::value_t::array);
    for (const auto& a : attributes) {
      if (!a.is_string()) fail(file, path + ".attributes", "must list strings");
      category.attributes.push_back(a.get<std::string>());
    }
    world.categories.push_back(std::move(category));
  }
  const auto& entities = need(root, "entities", "entities", file, ordered_json::value_t::array);
  for (std::size_t i = 0; i < entities.size(); ++i) {
    std::string path = "entities[" + std::to_string(i) + "]";
    const auto& e = entities[i];
    if (!e.is_object()) fail(file, path, "must be an object");
    WorldEntity entity;
    entity.id = need_string(e, "id", path + ".id", file);
    entity.name = need_string(e, "name", path + ".name", file);
    entity.category = need_string(e, "category", path + ".category", file);
    entity.split = need_string(e, "split", path + ".split", file);
    const auto& attributes = need(e, "attributes", path + ".attributes", file, ordered_json::value_t::object);
    for (auto it = attributes.begin(); it != attributes.end(); ++it) {
      if (!it->is_string()) fail(file, path + ".attributes." + it.key(), "must be a string");
      entity.attributes.emplace_back(it.key(), it->get<std::string>());
    }
    const auto& facts = need(e, "facts", path + ".facts", file, ordered_json::value_t::array);
    for (std::size_t f = 0; f < facts.size(); ++f) {
      std::string fact_path = path + ".facts[" + std::to_string(f) + "]";
      entity.facts.push_back({need_string(facts[f], "question", fact_path + ".question", file),
                              need_string(facts[f], "answer", fact_path + ".answer", file)});
    }
    const auto& images = need(e, "images", path + ".images", file, ordered_json::value_t::array);
    for (const auto& image : images) {
      if (!image.is_string()) fail(file, path + ".images", "must list image paths");
      entity.images.push_back((fs::absolute(dir) / image.get<std::string>()).lexically_normal());
    }
    world.entities.push_back(std::move(entity));
  }
  return world;
}

}  // namespace mike::data
