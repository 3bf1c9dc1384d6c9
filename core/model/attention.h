#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "core/model/config.h"
#include "core/model/rotary.h"

namespace dpo {

// Grouped-query self-attention with rotary embeddings. Each key/value head serves
// num_attention_heads / num_key_value_heads query heads.
class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const LlamaConfig& config);

  // x: (B, T, C); rotary: tables for the batch's positions;
  // mask: (B, 1, T, T) bool, true where a query may attend to a key.
  torch::Tensor forward(const torch::Tensor& x, const RotaryTables& rotary, const torch::Tensor& mask);

  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};

 private:
  int64_t num_heads_, num_kv_heads_, head_dim_;
};
TORCH_MODULE(Attention);

// Causal mask that also hides padded keys: (B, 1, T, T) bool from attention_mask (B, T).
torch::Tensor causal_padding_mask(const torch::Tensor& attention_mask);

}  // namespace dpo
