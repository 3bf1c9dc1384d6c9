#pragma once
#include <torch/types.h>

#include "core/model/config.h"

namespace dpo {

// Rotary position embedding in Hugging Face's rotate_half layout: the first and second halves of
// each head dimension form the rotated pairs.
struct RotaryTables {
  torch::Tensor cos;  // (B, 1, T, D)
  torch::Tensor sin;  // (B, 1, T, D)
};

// Inverse frequencies (D/2) for the config's head_dim, rope_theta and rope_scaling.
torch::Tensor rope_inverse_frequencies(const LlamaConfig& config);

// position_ids: (B, T) int64; inv_freq: (D/2). Returns tables broadcastable over heads.
RotaryTables rotary_tables(const torch::Tensor& position_ids, const torch::Tensor& inv_freq,
                           torch::ScalarType dtype);

// x: (B, H, T, D). Returns x·cos + rotate_half(x)·sin.
torch::Tensor apply_rotary(const torch::Tensor& x, const RotaryTables& tables);

}  // namespace dpo
