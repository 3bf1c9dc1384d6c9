#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "core/model/config.h"
#include "core/model/kv_cache.h"
#include "core/model/projection.h"

// The Llama forward, top to bottom: RMSNorm, rotary embeddings, the SwiGLU MLP, grouped-query
// attention, the decoder layer, the model and its language-model head.

namespace dpo {

// y = x / sqrt(mean(x²) + eps) · weight, computed in float32 as Hugging Face Llama does.
class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

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

// SwiGLU: down(silu(gate(x)) * up(x)).
class MLPImpl : public torch::nn::Module {
 public:
  MLPImpl(int64_t hidden, int64_t intermediate);
  torch::Tensor forward(const torch::Tensor& x);

  Projection gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(MLP);

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
torch::Tensor causal_padding_mask(const torch::Tensor& attention_mask, int64_t past = 0,
                                  int64_t sliding_window = 0);

// The same mask as an additive bias in `dtype`, built once per forward and shared by every layer:
// 0 where allowed, a large finite negative where not (so a fully hidden padding row stays finite).
torch::Tensor attention_bias(const torch::Tensor& allowed, torch::ScalarType dtype);

// Pre-norm decoder block: x + attn(norm(x)), then x + mlp(norm(x)).
class DecoderLayerImpl : public torch::nn::Module {
 public:
  explicit DecoderLayerImpl(const LlamaConfig& config);
  torch::Tensor forward(const torch::Tensor& x, const RotaryTables& rotary, const torch::Tensor& mask,
                        KVCache* cache = nullptr, size_t layer = 0);

  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  Attention self_attn{nullptr};
  MLP mlp{nullptr};
};
TORCH_MODULE(DecoderLayer);

// The transformer body; parameter names match Hugging Face's "model." prefix.
class LlamaModelImpl : public torch::nn::Module {
 public:
  explicit LlamaModelImpl(const LlamaConfig& config);
  // input_ids: (B, T); attention_mask: (B, S) over cached + new tokens (S = T without a cache).
  // Returns hidden states (B, T, C).
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                        KVCache* cache = nullptr);

  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
  torch::Tensor inv_freq;  // (head_dim/2) rotary frequencies: a buffer, not in checkpoints

 private:
  LlamaConfig config_;
};
TORCH_MODULE(LlamaModel);

// LlamaForCausalLM: state-dict names ("model.layers.0.self_attn.q_proj.weight", "lm_head.weight")
// are those of Hugging Face checkpoints. With tie_word_embeddings there is no lm_head parameter.
class LlamaForCausalLMImpl : public torch::nn::Module {
 public:
  explicit LlamaForCausalLMImpl(const LlamaConfig& config);
  // input_ids: (B, T) int64; attention_mask: (B, S) {0,1} over cached + new tokens.
  // Returns logits (B, T, V). A cache makes incremental decoding cost O(T) per step.
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                        KVCache* cache = nullptr);

  const LlamaConfig& config() const { return config_; }
  // (V, C): lm_head.weight, or the input embedding when tie_word_embeddings.
  torch::Tensor head_weight() const;

  LlamaModel model{nullptr};
  torch::nn::Linear lm_head{nullptr};

 private:
  LlamaConfig config_;
};
TORCH_MODULE(LlamaForCausalLM);

// Position ids that start at 0 on the first real token (left padding safe): (B, T).
torch::Tensor position_ids_from_mask(const torch::Tensor& attention_mask);

// Normal(0, initializer_range) for linear and embedding weights, as Hugging Face initialises.
void initialise_weights(LlamaForCausalLM& model);

}  // namespace dpo
