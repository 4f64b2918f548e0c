#pragma once
// Image features (vision tower + projector output) per image tensor, so an
// image is encoded once per run instead of at every probe, pre and post edit,
// and at every step of an edit that trains only language-model weights.
//
// Entries are keyed by the image tensor itself (the runner hands the same
// decoded tensor for the same file) and held under one validity stamp: the
// sum of the version counters of every vision/projector parameter. Any
// in-place write to those parameters (an optimiser step, copy_, restore)
// bumps a counter, so the next lookup sees another stamp and drops every
// entry: an edit that changes the vision side (FT-Visual) never reads stale
// features, and one that does not keeps them all.
#include <torch/torch.h>

#include <cstdint>
#include <list>
#include <unordered_map>

namespace mike::llava {

class ImageFeatureCache {
 public:
  // `budget_bytes` bounds the features held (least recently used go first); 0 disables the cache.
  explicit ImageFeatureCache(std::int64_t budget_bytes = 0) : budget_bytes_(budget_bytes) {}
  bool enabled() const { return budget_bytes_ > 0; }
  // The cached features of `image` when the parameters are still in state `stamp`; undefined otherwise.
  torch::Tensor find(const torch::Tensor& image, std::uint64_t stamp);
  // Stores `features` ([P, H], computed from `image` in state `stamp`).
  void insert(const torch::Tensor& image, std::uint64_t stamp, const torch::Tensor& features);
  std::int64_t hits() const { return hits_; }
  std::int64_t misses() const { return misses_; }
  void clear();

 private:
  struct Entry {
    torch::Tensor image;  // held so its address cannot be reused by another tensor while cached
    std::int64_t image_version = 0;
    torch::Tensor features;
    std::list<const void*>::iterator recency;
  };
  void drop_stale(std::uint64_t stamp);
  std::int64_t budget_bytes_;
  std::int64_t bytes_ = 0;
  std::uint64_t stamp_ = 0;
  std::unordered_map<const void*, Entry> entries_;
  std::list<const void*> recency_;  // front = most recently used
  std::int64_t hits_ = 0, misses_ = 0;
};

}  // namespace mike::llava
