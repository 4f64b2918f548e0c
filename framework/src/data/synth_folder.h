#pragma once
// The dataset folder `data.dir` names, as `mike run` and `mike pretrain` find
// it before loading (DESIGN.md "Data"): a dataset that exists is read and
// never rewritten; a synthetic world is generated only where the config
// allows it (`data.generate`) and only into a folder that does not exist yet.
#include <filesystem>
#include <string>

#include "data/synth.h"

namespace mike {
class Config;
}

namespace mike::data {

// Makes sure `dir` holds the synthetic world `options` describe, or makes it:
//  - `dir` does not exist: generated when `may_generate` (into a sibling
//    temporary folder renamed into place, so a killed run leaves no half
//    world behind); otherwise DataError naming `dir` and how to make it;
//  - `dir/world.json` records synth options: it must parse, be of
//    world_version() and record `options` (threads aside); otherwise
//    DataError saying what differs and how to regenerate (into a new folder,
//    or in place with `mike data synth --force`). Nothing in `dir` is written;
//  - `dir` exists without such a world.json: a dataset made some other way,
//    left to the loader.
// Returns true if it generated.
bool ensure_world(const std::filesystem::path& dir, const SynthOptions& options, bool may_generate);

// The `data` section of a composed config: checks `dir` (ConfigError when
// empty) and `generate` (auto | never | new), and for the mike format with a
// `synth` section calls ensure_world. `auto` generates only the data group
// file's own `dir` (a `data.dir` that an override or another file set is not
// generated); `new` generates whatever folder `dir` names when it does not
// exist; `never` (also when the key is absent) generates nothing. Logs when
// it generates. Returns `dir`.
std::filesystem::path ready_data_dir(const Config& data_config);

// "`mike data synth --out DIR ...`" (backquoted) with the flags that make `options` (and
// --force when `force`), for messages.
std::string synth_command(const std::filesystem::path& dir, const SynthOptions& options, bool force);

}  // namespace mike::data
