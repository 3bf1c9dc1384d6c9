#include "core/model/rotary.h"

#include <torch/torch.h>

namespace dpo {

RotaryTables rotary_tables(const torch::Tensor& position_ids, int64_t head_dim, double theta,
                           torch::ScalarType dtype) {
  auto options = torch::TensorOptions().dtype(torch::kFloat32).device(position_ids.device());
  // inv_freq_i = theta^(-2i/D), i < D/2
  auto inv_freq = torch::pow(theta, -torch::arange(0, head_dim, 2, options) / double(head_dim));
  auto freqs = position_ids.to(torch::kFloat32).unsqueeze(-1) * inv_freq;  // (B, T, D/2)
  auto emb = torch::cat({freqs, freqs}, -1).unsqueeze(1);                 // (B, 1, T, D)
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

torch::Tensor apply_rotary(const torch::Tensor& x, const RotaryTables& tables) {
  const int64_t half = x.size(-1) / 2;
  auto x1 = x.narrow(-1, 0, half);
  auto x2 = x.narrow(-1, half, half);
  auto rotated = torch::cat({-x2, x1}, -1);
  return x * tables.cos + rotated * tables.sin;
}

}  // namespace dpo
