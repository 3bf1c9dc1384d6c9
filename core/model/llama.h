#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "core/model/attention.h"
#include "core/model/config.h"
#include "core/model/kv_cache.h"
#include "core/model/mlp.h"
#include "core/model/rmsnorm.h"

namespace dpo {

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
