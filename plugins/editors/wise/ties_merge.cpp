#include "ties_merge.h"

#include <algorithm>

#include "mike/error.h"

namespace mike::wise {
namespace {

// Trim: the `density` fraction of entries of largest magnitude, the rest zero.
torch::Tensor keep_largest(const torch::Tensor& delta, double density) {
  if (density >= 1.0) return delta;
  const std::int64_t keep = static_cast<std::int64_t>(density * static_cast<double>(delta.numel()));
  if (keep < 1) throw ConfigError("editor wise: `merge_density` keeps no entry of a " + std::to_string(delta.numel()) +
                                  "-entry side memory; raise it");
  const torch::Tensor flat = delta.reshape({-1});
  const torch::Tensor index = std::get<1>(flat.abs().topk(keep));
  torch::Tensor mask = torch::zeros_like(flat);
  mask.index_fill_(0, index, 1);
  return (flat * mask).view_as(delta);
}

}  // namespace

torch::Tensor ties_merge(const std::vector<torch::Tensor>& deltas, double density, double weight) {
  if (deltas.empty()) throw Error("editor wise: a merge of no side memories");
  std::vector<torch::Tensor> trimmed;
  for (const torch::Tensor& d : deltas) trimmed.push_back(keep_largest(d, density));
  const double each = weight / static_cast<double>(deltas.size());
  const torch::Tensor weighted = torch::stack(trimmed) * each;  // [k, ...]
  // Elect: the sign of the summed vectors (ties to +, as EasyEdit's get_mask).
  const torch::Tensor elected = (weighted.sum(0) >= 0).to(weighted.dtype()) * 2 - 1;
  // Disjoint merge: entries whose sign agrees with the elected one; a zero
  // (trimmed) entry has sign 0 and never agrees.
  const torch::Tensor agree = (weighted.sign() == elected).to(weighted.dtype());
  const torch::Tensor mixed = (weighted * agree).sum(0);
  torch::Tensor divisor = (agree * each).sum(0);
  divisor = torch::where(divisor == 0, torch::ones_like(divisor), divisor);
  return mixed / divisor;
}

}  // namespace mike::wise
