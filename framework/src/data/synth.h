#pragma once
// `mike data synth`: the procedurally generated fine-grained entity world.
//
// Categories (bird, beetle, tower, ...) each draw from their own parametric
// shape family; siblings differ in a few fine attributes (a part's colour, a
// count of stripes/spots/windows, a small mark, proportions). Every entity
// has an invented name, facts, several varied images; edit records carry
// CSR scenes, ELC captions and locality QA drawn from the pretraining corpus.
// Same options -> byte-identical files.
#include <cstdint>
#include <filesystem>
#include <string>

namespace mike {
class Config;
}

namespace mike::data {

struct SynthOptions {
  std::uint64_t seed = 0;
  int entities = 130;          // total across all categories and splits (configs/data/synth.yaml)
  int images_per_entity = 6;   // views per entity (>= 3)
  // Of an edited entity's views, the last `igen_views_per_entity` are I-Gen
  // photos (`igen.other_view`, `image_rephrase`) and no protocol edits with
  // them; the others are its edit images (`images`, one per multi-step step).
  int igen_views_per_entity = 2;
  int image_size = 64;         // square side in px
  int augmented_per_entity = 2;  // I-Gen "augmented" copies of the edit image
  int scenes_per_entity = 2;     // CSR scenes per edit-style record
  int known_scenes_per_entity = 4;  // CSR scenes of each known entity in pretraining (+1 held out)
  // Fractions of each category's entities per split; the rest is "test".
  double known_fraction = 0.6;
  double dev_fraction = 0.1;
  double train_fraction = 0.1;
  // What the edited (dev/train/test) entities are called.
  // "text_names" (default, MIKE's setting): a fresh name that text-only
  //   pretraining records use (what it is, where it lives, who first recorded
  //   it), so the LM can say it, but no pretraining record pairs it with an
  //   image of the entity.
  // "novel_names": a fresh name no pretraining record contains, so the model
  //   has never produced it (teaching a new string).
  // "known_names": the name of a known entity of another category, a string
  //   the model already produces for other images — a counterfactual edit in
  //   the manner of CounterFact (ROME §3).
  // novel_names and known_names worlds share their pretraining corpus (and so
  // one pretrained model); text_names adds the edit entities' text facts.
  std::string edit_targets = "text_names";
  int threads = 0;  // 0 = hardware concurrency; output does not depend on it
};

// Reads the `synth` keys of a data config (configs/data/synth*.yaml); keys
// that are absent keep their defaults, wrong types throw ConfigError.
SynthOptions synth_options_from_config(const Config& synth);

struct SynthSummary {
  int entities = 0;
  int images = 0;
  int records = 0;          // train + dev + test edit records
  int pretrain_records = 0;
  std::uintmax_t bytes = 0; // total size of the files written
};

// Writes world.json, pretrain.jsonl, train/dev/test.jsonl and images/ into
// `out`, world.json last (a world without it is incomplete). A folder that
// already holds a world is replaced (its images/ is cleared first; `mike data
// synth` asks for --force first); any other non-empty folder is refused with
// DataError.
// Throws ConfigError for impossible options (e.g. more entities than the
// attribute space allows), DataError if `out` cannot be written.
SynthSummary generate_world(const std::filesystem::path& out, const SynthOptions& options);

// The version of the files generate_world writes (world.json "version").
int world_version();

// The options a world was generated with, as world.json records them
// ("synth" object); used to tell whether a folder holds the world a config asks for.
std::string synth_options_json(const SynthOptions& options);

// (Whether a folder holds the world a config asks for, and making it only
// where allowed: data/synth_folder.h.)

}  // namespace mike::data
