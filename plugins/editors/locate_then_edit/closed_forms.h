#pragma once
// The closed-form weight updates of locate-then-edit, in float64.
// Shapes: weight W [d_out, d_in], second moment C [d_in, d_in], keys K
// [d_in, n], residuals R [d_out, n]. Results are ΔW [d_out, d_in].
#include <torch/types.h>

namespace mike::locate_edit {

// ROME eq. 2: ΔW = (v* − W k*) (C⁻¹k*)ᵀ / ((C⁻¹k*)ᵀ k*). Afterwards
// (W+ΔW) k* = v*, and any key x with (C⁻¹k*)ᵀ x = 0 maps as before.
torch::Tensor rome_update(const torch::Tensor& weight, const torch::Tensor& second_moment, const torch::Tensor& key,
                          const torch::Tensor& value);

// MEMIT eq. 14: ΔW = R Kᵀ (λ C + K Kᵀ)⁻¹, the minimiser of
// λ‖ΔW‖²_C + ‖(W+ΔW)K − (WK + R)‖²; the residual left is R (I + Kᵀ(λC)⁻¹K)⁻¹.
torch::Tensor memit_update(const torch::Tensor& keys, const torch::Tensor& residuals,
                           const torch::Tensor& second_moment, double lambda);

// AlphaEdit eq. 6: P = Û Ûᵀ, Û = eigenvectors of C whose eigenvalues are below
// `relative_threshold` x the largest one (the null space of the preserved keys).
torch::Tensor nullspace_projector(const torch::Tensor& second_moment, double relative_threshold);

// AlphaEdit eq. 11 (sequential form): ΔW = R Kᵀ P (K_p K_pᵀ P + K Kᵀ P + l2 I)⁻¹,
// equivalently the transpose of (P K_p K_pᵀ + P K Kᵀ + l2 I)⁻¹ P K Rᵀ. K_p
// [d_in, m] holds the keys of earlier edits still applied (undefined or m = 0
// for none): the K_p K_pᵀ P term keeps ΔW K_p small, so a new edit does not
// overwrite the ones before it. Its rows lie in range(P), so ΔW K₀ ≈ 0 for
// every preserved key K₀ (whose directions P removes).
torch::Tensor alphaedit_update(const torch::Tensor& keys, const torch::Tensor& residuals,
                               const torch::Tensor& projector, double l2, const torch::Tensor& previous_keys = {});

// t as float64, detached.
torch::Tensor as_double(const torch::Tensor& t);

}  // namespace mike::locate_edit
