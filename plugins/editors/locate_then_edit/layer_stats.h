#pragma once
// Second-moment statistics of a layer's inputs, C = E[k kᵀ], for the
// locate-then-edit editors (ROME eq. 2, MEMIT eq. 14, AlphaEdit eq. 6): the
// covariance-like matrix that says which key directions the layer relies on.
//
// Computed once from a corpus the host serves (mike/corpus.h; by default the
// run's world's pretrain.jsonl: every token of prompt + answer, images
// included), with progress in the log, and cached on disk as safetensors
// keyed by model fingerprint + tap + corpus, so later runs and concurrent
// sweep jobs reuse it. The cache file is written to a temporary name and
// renamed into place: concurrent writers cannot leave a torn file, the last
// rename wins with identical content.
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>

#include "mike/corpus.h"
#include "mike/model.h"

namespace mike::locate_edit {

struct LayerStats {
  torch::Tensor second_moment;  // [d, d] float64, E[k kᵀ] over every corpus token
  std::int64_t tokens = 0;      // how many key vectors were averaged
  bool from_cache = false;
  std::string cache_file;       // "" when the cache is disabled
};

// Hex digest of every parameter value (names, shapes and bytes): the model
// part of the cache key, so a retrained or edited model never reuses stale stats.
std::string model_fingerprint(Model& model);

// C = E[k kᵀ] of the activation at `tap` ([batch, tokens, d]) over `corpus`,
// cached in `cache_dir` ("" = no cache). Throws DataError when the corpus is
// empty, ModelError for an unknown tap.
LayerStats layer_second_moment(Model& model, const std::string& tap, const Corpus& corpus,
                               const std::string& cache_dir);

// Where an editor's statistics come from (its `stats` config section).
struct StatsOptions {
  std::string corpus;         // corpus location (a dataset folder for the host's datasets)
  std::string cache_dir;      // "" disables the cache
  int max_records = 0;        // first N corpus samples only (0 = all)
  double ridge = 1.0e-4;      // C + ridge·mean(diag C)·I keeps the solves regular
};

// An editor's C (+ ridge) per edit site, computed on first use on the model
// as it is then, and kept for the editor's lifetime.
class SecondMoments {
 public:
  explicit SecondMoments(StatsOptions options) : options_(std::move(options)) {}
  const torch::Tensor& of(Model& model, const EditSite& site, const CorpusSource& source);
  const StatsOptions& options() const { return options_; }

 private:
  StatsOptions options_;
  std::map<int, torch::Tensor> by_block_;
};

}  // namespace mike::locate_edit
