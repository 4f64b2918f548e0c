// The dataset folder of `mike run` / `mike pretrain`; see synth_folder.h.
#include "data/synth_folder.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <fstream>

#include "mike/config.h"
#include "mike/error.h"

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;

namespace mike::data {

namespace {

// How to get the world `options` describe without touching the folder
// already at `dir`.
std::string regenerate_ways(const fs::path& dir, const SynthOptions& options) {
  return "point data.dir at a new folder and add data.generate=new (the command then makes this world there), "
         "or replace the world in '" + dir.string() + "' with " + synth_command(dir, options, true);
}

// "entities is 130 in world.json but 52 in the config; ..." for each synth
// option that differs.
std::string describe_differences(const ordered_json& recorded, const ordered_json& wanted) {
  std::string out;
  for (const auto& [key, value] : wanted.items()) {
    std::string have = recorded.contains(key) ? recorded.at(key).dump() : std::string("absent");
    if (have == value.dump()) continue;
    out += (out.empty() ? "" : "; ") + key + " is " + have + " in world.json but " + value.dump() + " in data.synth";
  }
  for (const auto& [key, value] : recorded.items())
    if (!wanted.contains(key)) out += (out.empty() ? "" : "; ") + key + " is recorded but not an option of this mike";
  return out.empty() ? "the options are written differently" : out;
}

// Throws unless `dir/world.json` (which exists) records the world `options`
// describe. Returns false when the file is not a synthetic world's (no
// "synth" object): a dataset made some other way.
bool check_world_file(const fs::path& dir, const SynthOptions& options) {
  const fs::path file = dir / "world.json";
  const std::string kept = "; the folder is left as it is. ";
  ordered_json world;
  try {
    std::ifstream in(file);
    world = ordered_json::parse(in);
  } catch (const ordered_json::parse_error& e) {
    throw DataError(file.string() + ": not valid JSON (" + e.what() + ")" + kept +
                    "fix: restore world.json from a backup (it is how mike tells which world the folder holds), or " +
                    regenerate_ways(dir, options));
  }
  if (!world.is_object() || !world.contains("synth")) return false;
  if (!world.at("synth").is_object())
    throw DataError(file.string() + ": key 'synth' must be an object of synth options but is " +
                    world.at("synth").dump() + kept + "fix: " + regenerate_ways(dir, options));
  const ordered_json version = world.value("version", ordered_json());
  if (version != ordered_json(world_version()))
    throw DataError(file.string() + ": the world is of version " + (version.is_null() ? "(none)" : version.dump()) +
                    " but this mike reads version " + std::to_string(world_version()) +
                    " (its files changed since; see kWorldVersion in framework/src/data/synth.cpp)" + kept +
                    "fix: " + regenerate_ways(dir, options));
  const ordered_json wanted = ordered_json::parse(synth_options_json(options));
  if (world.at("synth") != wanted)
    throw DataError(file.string() + ": the folder holds another synthetic world than the config asks for (" +
                    describe_differences(world.at("synth"), wanted) + ")" + kept + "fix: " + regenerate_ways(dir, options));
  return true;
}

// Generates into a sibling temporary folder and renames it to `dir`, so that
// `dir` exists only once the world is whole. Another process that made it
// meanwhile wins; its world is then checked like any other.
void generate_in_place_of(const fs::path& dir, const SynthOptions& options) {
  std::error_code ec;
  if (!dir.parent_path().empty()) fs::create_directories(dir.parent_path(), ec);
  const fs::path partial = dir.string() + ".partial-" + std::to_string(::getpid());
  fs::remove_all(partial, ec);  // our own leftover (same pid), never a user's folder
  try {
    generate_world(partial, options);
  } catch (...) {
    fs::remove_all(partial, ec);
    throw;
  }
  fs::rename(partial, dir, ec);  // replaces `dir` only if it is an empty folder
  if (ec) {
    fs::remove_all(partial, ec);
    if (!fs::exists(dir / "world.json"))
      throw DataError("cannot move the generated world into '" + dir.string() + "'; fix: check that its parent folder "
                      "is writable and that nothing else is at that path");
    check_world_file(dir, options);
  }
}

// "configs/data/synth.yaml:6:6" -> "configs/data/synth.yaml"; "" for
// overrides and built-in values.
fs::path origin_file(const std::string& origin) {
  if (origin.empty() || origin[0] == '<' || origin.rfind("override", 0) == 0) return {};
  std::string file = origin;
  for (int part = 0; part < 2; ++part) {
    std::size_t colon = file.rfind(':');
    if (colon == std::string::npos || colon + 1 == file.size() ||
        file.find_first_not_of("0123456789", colon + 1) != std::string::npos)
      break;
    file.erase(colon);
  }
  return file;
}

}  // namespace

std::string synth_command(const fs::path& dir, const SynthOptions& options, bool force) {
  std::string command = "`mike data synth" + std::string(force ? " --force" : "") + " --out " + dir.string() +
                        " --seed " + std::to_string(options.seed) + " --entities " + std::to_string(options.entities) +
                        " --images-per-entity " + std::to_string(options.images_per_entity) + " --size " +
                        std::to_string(options.image_size) + " --edit-targets " + options.edit_targets;
  // The other options have no flag: a data config file carries them.
  const ordered_json defaults = ordered_json::parse(synth_options_json(SynthOptions{}));
  const ordered_json wanted = ordered_json::parse(synth_options_json(options));
  std::string others;
  for (const char* key : {"igen_views_per_entity", "augmented_per_entity", "scenes_per_entity",
                          "known_scenes_per_entity", "known_fraction", "dev_fraction", "train_fraction"})
    if (wanted.at(key) != defaults.at(key)) others += std::string(others.empty() ? "" : ", ") + key + ": " + wanted.at(key).dump();
  if (others.empty()) return command + "`";
  return command + " --config FILE` (FILE: a data config whose synth: section sets " + others + ")";
}

bool ensure_world(const fs::path& dir, const SynthOptions& options, bool may_generate) {
  const bool absent = !fs::exists(dir);
  if (absent || (fs::is_directory(dir) && fs::is_empty(dir))) {
    if (!may_generate)
      throw DataError("dataset folder '" + dir.string() + "' " + (absent ? "does not exist" : "is empty") +
                      "; fix: check data.dir for a typo, or make the world there with " +
                      synth_command(dir, options, false) + " (or add data.generate=new to let this command make it)");
    generate_in_place_of(dir, options);
    return true;
  }
  if (fs::exists(dir / "world.json")) check_world_file(dir, options);
  return false;
}

fs::path ready_data_dir(const Config& data_config) {
  const fs::path dir = data_config.get_or<std::string>("dir", "");
  if (dir.empty())
    throw ConfigError("data.dir is empty (from " + data_config.origin("dir") +
                      "); it names the dataset folder, and an empty one would mean the current directory; "
                      "fix: set it, e.g. data.dir=data/synth");
  const std::string format = data_config.get_or<std::string>("format", "mike");
  if (format != "mike" || !data_config.has("synth")) return dir;

  const std::string generate = data_config.get_or<std::string>("generate", "never");
  if (generate != "auto" && generate != "never" && generate != "new")
    throw ConfigError("data.generate is '" + generate + "' (from " + data_config.origin("generate") +
                      "); use auto (make the data group's own folder when it does not exist), new (make data.dir "
                      "when it does not exist) or never");
  // `auto` trusts only the group file's own folder: a data.dir typed on the
  // command line (or set by another file) may be a typo, and a world there
  // would be made silently.
  const std::string dir_origin = data_config.origin("dir");
  const fs::path group_file = origin_file(dir_origin);
  const bool from_group_file = !group_file.empty() && group_file.parent_path().filename() == "data" &&
                               group_file.filename() != "config.yaml";
  const bool may_generate = generate == "new" || (generate == "auto" && from_group_file);
  const SynthOptions options = synth_options_from_config(data_config.sub("synth"));
  if (!may_generate && !fs::exists(dir)) {
    std::string why = generate == "never" ? "data.generate is never" + std::string(data_config.has("generate") ? "" : " (absent)")
                                          : "data.generate=auto makes only the data group file's own folder, and "
                                            "this data.dir comes from " + (dir_origin.empty() ? std::string("elsewhere") : dir_origin);
    throw DataError("dataset folder '" + dir.string() + "' does not exist and is not generated here (" + why +
                    "); fix: check data.dir for a typo, make the world first with " +
                    synth_command(dir, options, false) + ", or add data.generate=new to let this command make it");
  }
  if (ensure_world(dir, options, may_generate))
    spdlog::info("generated the synthetic world in {} (data.dir did not exist; data.generate={})", dir.string(), generate);
  return dir;
}

}  // namespace mike::data
