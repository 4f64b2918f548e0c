#pragma once
// Taps: named points in a model's forward pass where a callback can read or
// replace an activation (ROME keys/values, GRACE routing, activation logging).
// Names are dotted, e.g. "lm.layers.7.mlp.down_proj.in", "projector.out".
//
// TapRegistry is the one implementation models use: call apply() at every
// tap point; when no callback is registered it is a single branch on an
// empty map, so an untapped forward pays nothing measurable.
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mike/export.h"

namespace mike {

// Receives the activation at `tap`; returns the tensor the forward continues
// with (return `activation` itself to only read it).
using TapCallback = std::function<torch::Tensor(const std::string& tap, const torch::Tensor& activation)>;

// Removes its callback when destroyed (or on reset()). Movable, not copyable.
class TapHandle {
 public:
  TapHandle() = default;
  explicit TapHandle(std::function<void()> remove) : remove_(std::move(remove)) {}
  TapHandle(TapHandle&& other) noexcept : remove_(std::move(other.remove_)) { other.remove_ = nullptr; }
  TapHandle& operator=(TapHandle&& other) noexcept {
    if (this != &other) {
      reset();
      remove_ = std::move(other.remove_);
      other.remove_ = nullptr;
    }
    return *this;
  }
  TapHandle(const TapHandle&) = delete;
  TapHandle& operator=(const TapHandle&) = delete;
  ~TapHandle() { reset(); }
  void reset() {
    if (remove_) {
      auto remove = std::move(remove_);
      remove_ = nullptr;
      remove();
    }
  }

 private:
  std::function<void()> remove_;
};

class MIKE_API TapRegistry {
 public:
  // Registers `callback` at `tap`. Several callbacks on one tap run in
  // registration order, each seeing the previous one's result.
  TapHandle add(const std::string& tap, TapCallback callback);
  bool any() const { return !state_->callbacks.empty(); }
  bool active(const std::string& tap) const { return any() && state_->callbacks.count(tap) != 0; }
  // Runs the callbacks at `tap` (if any) and returns the activation to use.
  torch::Tensor apply(const std::string& tap, torch::Tensor activation) const {
    if (!any()) return activation;
    return apply_slow(tap, std::move(activation));
  }

 private:
  torch::Tensor apply_slow(const std::string& tap, torch::Tensor activation) const;
  struct State {
    std::map<std::string, std::vector<std::pair<std::uint64_t, TapCallback>>> callbacks;
    std::uint64_t next_id = 0;
  };
  // Shared with handles so a handle outliving the registry is harmless.
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace mike
