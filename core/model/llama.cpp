#include "core/model/llama.h"

#include <torch/torch.h>

namespace dpo {

DecoderLayerImpl::DecoderLayerImpl(const LlamaConfig& c) {
  self_attn = register_module("self_attn", Attention(c));
  mlp = register_module("mlp", MLP(c.hidden_size, c.intermediate_size));
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& x, const RotaryTables& rotary,
                                        const torch::Tensor& mask, KVCache* cache, size_t layer) {
  auto h = x + self_attn(input_layernorm(x), rotary, mask, cache, layer);
  return h + mlp(post_attention_layernorm(h));
}

LlamaModelImpl::LlamaModelImpl(const LlamaConfig& c) : config_(c) {
  c.validate();
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(c.vocab_size, c.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(DecoderLayer(c));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  inv_freq = register_buffer("rotary_inv_freq", rope_inverse_frequencies(c));
}

torch::Tensor position_ids_from_mask(const torch::Tensor& attention_mask) {
  return (attention_mask.to(torch::kLong).cumsum(-1) - 1).clamp_min(0);
}

torch::Tensor LlamaModelImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                      KVCache* cache) {
  const int64_t T = input_ids.size(1);
  const int64_t past = cache != nullptr ? cache->length() : 0;
  auto x = embed_tokens(input_ids);  // (B, T, C)
  auto positions = position_ids_from_mask(attention_mask).narrow(1, past, T);  // (B, T)
  auto rotary = rotary_tables(positions, inv_freq, x.scalar_type());
  auto mask = attention_bias(causal_padding_mask(attention_mask, past, config_.sliding_window),
                             torch::kFloat32);  // (B, 1, T, S)
  size_t index = 0;
  for (const auto& layer : *layers) x = layer->as<DecoderLayer>()->forward(x, rotary, mask, cache, index++);
  return norm(x);
}

LlamaForCausalLMImpl::LlamaForCausalLMImpl(const LlamaConfig& c) : config_(c) {
  model = register_module("model", LlamaModel(c));
  if (!c.tie_word_embeddings) {
    lm_head = register_module(
        "lm_head", torch::nn::Linear(torch::nn::LinearOptions(c.hidden_size, c.vocab_size).bias(false)));
  }
}

torch::Tensor LlamaForCausalLMImpl::forward(const torch::Tensor& input_ids,
                                            const torch::Tensor& attention_mask, KVCache* cache) {
  auto hidden = model->forward(input_ids, attention_mask, cache);  // (B, T, C)
  return torch::matmul(hidden, head_weight().t());  // (B, T, V)
}

torch::Tensor LlamaForCausalLMImpl::head_weight() const {
  return lm_head ? lm_head->weight : model->embed_tokens->weight;
}

void initialise_weights(LlamaForCausalLM& model) {
  torch::NoGradGuard no_grad;
  const double std = model->config().initializer_range;
  for (auto& p : model->named_parameters()) {
    const auto& name = p.key();
    if (name.ends_with("norm.weight")) {
      p.value().fill_(1.0);
    } else if (name.ends_with(".bias")) {
      p.value().zero_();
    } else {
      p.value().normal_(0.0, std);
    }
  }
}

}  // namespace dpo
