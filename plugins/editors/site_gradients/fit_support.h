#pragma once
// The parts of fit() that trained gradient editors (mend, ke) share: what is
// computed once per training edit on the unedited model, the post-edit
// losses of one training edit under an update applied through the sites'
// taps, and the order training edits are visited in.
#include <torch/types.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "mike/editor.h"
#include "site_gradients.h"

namespace mike::site_gradients {

// A training edit's inputs that depend only on the unedited model: its
// factors at every site (the edit's NLL, target + EOS) and the log-
// probabilities of its out-of-scope inputs (undefined when it has none).
struct PreparedEdit {
  std::vector<SiteFactors> factors;
  torch::Tensor base_log_probs;
};

// One PreparedEdit per training edit; reports `done`/`total` on `progress`
// after each (the first train.size() steps of a fit's bar).
std::vector<PreparedEdit> prepare_training_edits(Model& model, const std::vector<EditSite>& sites,
                                                 const std::vector<TrainingEdit>& train, FitProgress& progress,
                                                 std::int64_t total);

struct PostEditLosses {
  torch::Tensor edit;      // mean NLL (target + EOS) of the edit and its in-scope inputs
  torch::Tensor locality;  // mean KL(p_pre || p_post) over out-of-scope answer positions; undefined if none
};

// The losses of `example`'s post-edit model, whose sites' outputs gain
// shift(l, x) (OutputShift): differentiable in what shift reads.
PostEditLosses post_edit_losses(Model& model, const std::vector<EditSite>& sites, const TrainingEdit& example,
                                const PreparedEdit& prepared, const OutputShift::Shift& shift);

// The status of a fit's training steps on its progress bar: smoothed
// (exponential average, 0.95) post-edit NLL and locality KL, and `extra`.
class TrainingStatus {
 public:
  TrainingStatus(FitProgress& progress, std::int64_t first, std::int64_t total)
      : progress_(progress), first_(first), total_(total) {}
  void step(std::int64_t step, double edit_nll, double locality_kl, const std::string& extra = "");

 private:
  FitProgress& progress_;
  std::int64_t first_, total_;
  double edit_ = 0, locality_ = 0;
};

// Visits 0..n-1 in epochs, each a fresh shuffle from one seeded generator.
class EditOrder {
 public:
  EditOrder(std::size_t n, std::uint64_t seed);
  std::size_t next();

 private:
  std::vector<std::size_t> order_;
  std::size_t at_;
  std::mt19937_64 shuffle_;
};

}  // namespace mike::site_gradients
