#pragma once
#include <torch/types.h>

#include "core/runtime/torch_compat.h"

namespace dpo {

#if !DPO_HAVE_SDPA
// Causal attention a block of 128 queries at a time, for libtorch without SDPA (1.13): each block
// meets only the keys it can see (the masked upper triangle is skipped), and the backward pass
// recomputes each block's probabilities from the saved row log-sum-exps, so the (B, H, T, S)
// probabilities of plain attention are never kept (FlashAttention-2's scheme, in libtorch ops).
// q: (B, Hkv, rep, T, D), the rep query heads of each kv head; k, v: (B, Hkv, S, D);
// bias: (B, 1, T, S) additive (attention_bias), which must hide every key after its query
// (S = past + T). Returns (B, Hkv, rep, T, D).
torch::Tensor blockwise_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                  const torch::Tensor& bias);
#endif

}  // namespace dpo
