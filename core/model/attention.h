#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "core/model/config.h"
#include "core/model/kv_cache.h"
#include "core/model/projection.h"
#include "core/model/rotary.h"

namespace dpo {

// Grouped-query self-attention with rotary embeddings. Each key/value head serves
// num_attention_heads / num_key_value_heads query heads.
class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const LlamaConfig& config);

  // x: (B, T, C); rotary: tables for the T new positions; mask: (B, 1, T, S) additive float
  // (attention_bias), 0 where a query may attend to a key, S = cached + new tokens. With a cache,
  // this layer's keys and values are appended to cache->keys[layer] / values[layer].
  torch::Tensor forward(const torch::Tensor& x, const RotaryTables& rotary, const torch::Tensor& mask,
                        KVCache* cache = nullptr, size_t layer = 0);

  Projection q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};

 private:
  int64_t num_heads_, num_kv_heads_, head_dim_;
};
TORCH_MODULE(Attention);

// Causal mask that also hides padded keys (and keys more than sliding_window back, when set):
// (B, 1, T, S) bool from attention_mask (B, S) for the last T = S - past positions.
torch::Tensor causal_padding_mask(const torch::Tensor& attention_mask, int64_t past = 0, int64_t sliding_window = 0);

// The same mask as an additive bias in `dtype`, built once per forward and shared by every layer:
// 0 where allowed, a large finite negative where not (so a fully hidden padding row stays finite).
torch::Tensor attention_bias(const torch::Tensor& allowed, torch::ScalarType dtype);

}  // namespace dpo
