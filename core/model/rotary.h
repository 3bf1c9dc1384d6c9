#pragma once
#include <torch/types.h>

namespace dpo {

// Rotary position embedding in Hugging Face's rotate_half layout: the first and second halves of
// each head dimension form the rotated pairs.
struct RotaryTables {
  torch::Tensor cos;  // (B, 1, T, D)
  torch::Tensor sin;  // (B, 1, T, D)
};

// position_ids: (B, T) int64. Returns tables broadcastable over heads.
RotaryTables rotary_tables(const torch::Tensor& position_ids, int64_t head_dim, double theta,
                           torch::ScalarType dtype);

// x: (B, H, T, D). Returns x·cos + rotate_half(x)·sin.
torch::Tensor apply_rotary(const torch::Tensor& x, const RotaryTables& tables);

}  // namespace dpo
