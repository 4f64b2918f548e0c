#pragma once
// `mike pretrain`: trains a model preset from scratch on a dataset's
// pretraining corpus (<data.dir>/pretrain.jsonl) so it names the *known*
// entities, answers their facts, and has never seen an *edit* entity's name.
//
// The result is cached by config hash under $MIKE_CACHE (default
// ~/.cache/mike)/pretrain/<plugin>-<hash>/ as a checkpoint directory the
// model's `checkpoint` key loads; `mike run` picks it up through
// with_pretrained_checkpoint(). The hash covers the model config, the
// pretraining settings, the seed and the corpus bytes, so a changed config or
// dataset never reuses a stale model.
//
// Settings live under `model.pretrain` (per preset):
//   steps, batch_size, lr, min_lr, warmup_steps, weight_decay, grad_clip,
//   checkpoint_every, holdout_images_per_entity, eval_limit, length_groups
// (passes per batch, records sorted by length: pretrain/grouped_loss.h; it
// changes only float rounding, so it is outside the hash like threads)
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "mike/config.h"
#include "mike/tokenizer.h"

namespace mike {

struct PretrainRunOptions {
  // Continue from the last periodic checkpoint: <cache>/pretrain/<plugin>-<hash>.partial/
  // train_state.safetensors (weights, AdamW moments, step, smoothed loss; written
  // atomically). Batches and the schedule are functions of the step, so a resumed
  // run ends with the weights an uninterrupted one would have (test_pretrain_cli
  // checks this bitwise with 1 thread).
  bool resume = false;
  bool force = false;            // retrain even when the cache has this model
  bool progress = true;          // progress bar on stderr
  std::vector<std::string> plugin_paths;
};

struct PretrainReport {
  std::filesystem::path checkpoint_dir;
  bool from_cache = false;
  int steps = 0;
  double seconds = 0.0;          // training wall time (this invocation)
  double final_loss = 0.0;
  // Greedy exact match (normalised) of the evaluation sets, in [0, 1]:
  // known_seen, known_heldout, text_qa, edit_naming, and one per kind of
  // <data.dir>/controls.jsonl (heldout_paraphrase, csr_control, in_context,
  // edit_name_text).
  std::map<std::string, double> accuracy;
  std::map<std::string, int> eval_counts;
};

// Where checkpoints are cached: $MIKE_CACHE, else ~/.cache/mike.
std::filesystem::path cache_root();
// Stable hash of everything that determines the pretrained weights.
std::string pretrain_hash(const Config& root);
// <cache_root>/pretrain/<plugin>-<hash>
std::filesystem::path pretrained_checkpoint_dir(const Config& root);

// Trains the tokenizer `mike pretrain` uses on a world (every prompt and
// every answer of its pretrain.jsonl is a sentence) and saves it to `path`.
// Benchmarks call it too, so they tokenize exactly as a pretrained model does.
void train_corpus_tokenizer(const std::vector<data::PretrainRecord>& records, const TokenizerTrainOptions& options,
                            const std::filesystem::path& path);

// Throws ConfigError when root.model.pretrain's settings are unusable (what
// run_pretraining would reject), so a sweep checks every job before training.
void validate_pretrain_settings(const Config& root);

// Runs (or finds in the cache) the pretraining of root.model on root.data.
PretrainReport run_pretraining(const Config& root, const PretrainRunOptions& options);

// The `model` config to instantiate for a run: unchanged when it sets
// `checkpoint` or has no `pretrain` section; otherwise with `checkpoint`
// pointing at the cached pretrained model. When the cache lacks it, throws
// ConfigError (naming the cache dir and `mike pretrain`), unless the model
// config sets `initial_weights: true`: then it warns and returns it with
// `tokenizer` set (when unset) to the tokenizer pretraining would train on
// <data.dir>/pretrain.jsonl, trained once and cached under <cache dir>.initial/.
Config with_pretrained_checkpoint(const Config& root, const std::vector<std::string>& plugin_paths);

// with_pretrained_checkpoint(), and the root's `device` (cpu, cuda, cuda:N)
// passed to the model as its `device` key when it differs from the model's.
// What `mike run` and `mike model` instantiate.
Config model_config_for_run(const Config& root, const std::vector<std::string>& plugin_paths);

}  // namespace mike
