// Closed-form updates of ROME, MEMIT and AlphaEdit (see closed_forms.h).
#include "closed_forms.h"

#include <torch/torch.h>

#include <string>

#include "mike/error.h"

namespace mike::locate_edit {
namespace {

void check_square(const torch::Tensor& c, std::int64_t d, const char* what) {
  if (c.dim() != 2 || c.size(0) != d || c.size(1) != d)
    throw Error(std::string(what) + ": second moment must be [" + std::to_string(d) + ", " + std::to_string(d) +
                "], got " + std::to_string(c.dim()) + "-D");
}

}  // namespace

// Closed forms run in float64 on the host, whatever device the model is on
// (d x d systems: small next to a forward pass).
torch::Tensor as_double(const torch::Tensor& t) { return t.detach().to(torch::kCPU, torch::kFloat64); }

torch::Tensor rome_update(const torch::Tensor& weight, const torch::Tensor& second_moment, const torch::Tensor& key,
                          const torch::Tensor& value) {
  const torch::Tensor w = as_double(weight), c = as_double(second_moment), k = as_double(key), v = as_double(value);
  check_square(c, w.size(1), "rome_update");
  const torch::Tensor u = torch::linalg_solve(c, k.unsqueeze(1)).squeeze(1);  // C⁻¹k*
  // ROME eq. 2: Λ = (v* − W k*) / ((C⁻¹k*)ᵀ k*), ΔW = Λ (C⁻¹k*)ᵀ.
  return torch::outer(v - w.mv(k), u) / u.dot(k);
}

torch::Tensor memit_update(const torch::Tensor& keys, const torch::Tensor& residuals, const torch::Tensor& second_moment,
                           double lambda) {
  const torch::Tensor k = as_double(keys), r = as_double(residuals), c = as_double(second_moment);
  check_square(c, k.size(0), "memit_update");
  // MEMIT eq. 14: ΔW = R Kᵀ (λC + KKᵀ)⁻¹ = ((λC + KKᵀ)⁻¹ K Rᵀ)ᵀ (the matrix is symmetric).
  const torch::Tensor a = lambda * c + k.mm(k.t());
  return torch::linalg_solve(a, k.mm(r.t())).t();
}

torch::Tensor nullspace_projector(const torch::Tensor& second_moment, double relative_threshold) {
  const torch::Tensor c = as_double(second_moment);
  auto [eigenvalues, eigenvectors] = torch::linalg_eigh(c);
  // AlphaEdit eq. 6: keep the eigenvectors the preserved keys barely excite.
  const torch::Tensor keep = eigenvalues < relative_threshold * eigenvalues.max();
  const torch::Tensor u = eigenvectors.index({torch::indexing::Slice(), keep});
  return u.mm(u.t());
}

torch::Tensor alphaedit_update(const torch::Tensor& keys, const torch::Tensor& residuals, const torch::Tensor& projector,
                               double l2, const torch::Tensor& previous_keys) {
  const torch::Tensor k = as_double(keys), r = as_double(residuals), p = as_double(projector);
  check_square(p, k.size(0), "alphaedit_update");
  // AlphaEdit eq. 11: ΔW = R Kᵀ P (K_p K_pᵀ P + K Kᵀ P + l2 I)⁻¹
  //                      = ((P K_p K_pᵀ + P K Kᵀ + l2 I)⁻¹ P K Rᵀ)ᵀ.
  torch::Tensor m = p.mm(k).mm(k.t()) + l2 * torch::eye(k.size(0), k.options());
  if (previous_keys.defined() && previous_keys.numel() > 0) {
    const torch::Tensor kp = as_double(previous_keys);
    if (kp.dim() != 2 || kp.size(0) != k.size(0))
      throw Error("alphaedit_update: previous keys must be [" + std::to_string(k.size(0)) + ", m]");
    m = m + p.mm(kp).mm(kp.t());
  }
  return torch::linalg_solve(m, p.mm(k).mm(r.t())).t();
}

}  // namespace mike::locate_edit
