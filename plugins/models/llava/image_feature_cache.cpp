#include "image_feature_cache.h"

namespace mike::llava {

namespace {
std::int64_t bytes_of(const torch::Tensor& t) { return t.numel() * static_cast<std::int64_t>(t.element_size()); }
}  // namespace

void ImageFeatureCache::drop_stale(std::uint64_t stamp) {
  if (stamp == stamp_) return;
  clear();
  stamp_ = stamp;
}

void ImageFeatureCache::clear() {
  entries_.clear();
  recency_.clear();
  bytes_ = 0;
}

torch::Tensor ImageFeatureCache::find(const torch::Tensor& image, std::uint64_t stamp) {
  if (!enabled()) return {};
  drop_stale(stamp);
  auto it = entries_.find(image.unsafeGetTensorImpl());
  // The same tensor written in place since (a caller reusing a buffer) is another image.
  if (it == entries_.end() || it->second.image_version != static_cast<std::int64_t>(image._version())) {
    ++misses_;
    return {};
  }
  recency_.splice(recency_.begin(), recency_, it->second.recency);
  ++hits_;
  return it->second.features;
}

void ImageFeatureCache::insert(const torch::Tensor& image, std::uint64_t stamp, const torch::Tensor& features) {
  if (!enabled()) return;
  drop_stale(stamp);
  const void* key = image.unsafeGetTensorImpl();
  if (auto old = entries_.find(key); old != entries_.end()) {
    bytes_ -= bytes_of(old->second.features);
    recency_.erase(old->second.recency);
    entries_.erase(old);
  }
  // A copy of its own: a row view would keep the whole batch's storage alive.
  Entry entry{image, static_cast<std::int64_t>(image._version()), features.detach().clone(), {}};
  const std::int64_t size = bytes_of(entry.features);
  if (size > budget_bytes_) return;
  while (bytes_ + size > budget_bytes_ && !recency_.empty()) {
    auto last = entries_.find(recency_.back());
    bytes_ -= bytes_of(last->second.features);
    entries_.erase(last);
    recency_.pop_back();
  }
  recency_.push_front(key);
  entry.recency = recency_.begin();
  entries_.emplace(key, std::move(entry));
  bytes_ += size;
}

}  // namespace mike::llava
