#pragma once
// Corpora an editor reads beyond its edit requests (layer statistics of
// locate-then-edit editors, demonstrations, training data), served by the
// host so that every editor, in-tree or third-party, reads datasets the same
// way and never needs the host's data code.
//
// The host hands each editor a CorpusSource right after creating it
// (Editor::corpus_source()); for the host's datasets a location is a dataset
// folder and its corpus is that folder's pretrain.jsonl (prompt, optional
// image, answer).
#include <cstddef>
#include <memory>
#include <string>

#include "mike/model.h"

namespace mike {

class MIKE_API Corpus {
 public:
  virtual ~Corpus();
  // Number of samples; reads the corpus on first use (DataError for a bad record).
  virtual std::size_t size() const = 0;
  // Sample `index` (< size()) as a scoring request: prompt, decoded image (or
  // none) and the answer as target. DataError for a missing or corrupt image.
  virtual ScoreRequest sample(std::size_t index) const = 0;
  // Identifies the corpus content cheaply (location, size, modification time
  // and sample limit), without reading it: the corpus part of cache keys.
  virtual std::string fingerprint() const = 0;
  // Where it was read from, for messages and logs (e.g. "data/synth/pretrain.jsonl").
  virtual std::string location() const = 0;
};

class MIKE_API CorpusSource {
 public:
  virtual ~CorpusSource();
  // The corpus at `location`, its first `limit` samples (0 = all). Throws
  // DataError naming the location and the fix when there is none.
  virtual std::shared_ptr<const Corpus> open(const std::string& location, std::size_t limit) const = 0;
};

}  // namespace mike
