#pragma once
// Second-moment statistics of a layer's inputs, C = E[k kᵀ], for the
// locate-then-edit editors (ROME eq. 2, MEMIT eq. 14, AlphaEdit eq. 6): the
// covariance-like matrix that says which key directions the layer relies on.
//
// Computed once from a corpus (default: the synthetic world's pretrain.jsonl,
// every token of prompt + answer, images included), with progress in the log,
// and cached on disk as safetensors keyed by model fingerprint + tap + corpus,
// so later runs and concurrent sweep jobs reuse it. The cache file is written
// to a temporary name and renamed into place: concurrent writers cannot leave a
// torn file, the last rename wins with identical content.
#include <torch/types.h>

#include <string>

#include "mike/model.h"

namespace mike {

struct LayerStatsOptions {
  std::string corpus_dir;     // dataset folder holding pretrain.jsonl
  std::string cache_dir;      // where statistics are cached; "" disables the cache
  int max_records = 0;        // use only the first N corpus records (0 = all)
};

struct LayerStats {
  torch::Tensor second_moment;  // [d, d] float64, E[k kᵀ] over every corpus token
  std::int64_t tokens = 0;      // how many key vectors were averaged
  bool from_cache = false;
  std::string cache_file;       // "" when the cache is disabled
};

// Hex digest of every parameter value (names, shapes and bytes): the model
// part of the cache key, so a retrained or edited model never reuses stale stats.
MIKE_API std::string model_fingerprint(Model& model);

// C = E[k kᵀ] of the activation at `tap` ([batch, tokens, d]) over the corpus.
// Throws DataError when the corpus is missing or empty, ModelError for an
// unknown tap.
MIKE_API LayerStats layer_second_moment(Model& model, const std::string& tap, const LayerStatsOptions& options);

}  // namespace mike
