#include "core/model/llama.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "core/model/blockwise_attention.h"
#include "core/runtime/torch_compat.h"

namespace dpo {

RMSNormImpl::RMSNormImpl(int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  auto x32 = x.to(torch::kFloat32);
  auto variance = x32.pow(2).mean(-1, /*keepdim=*/true);
  return weight * (x32 * torch::rsqrt(variance + eps_)).to(x.scalar_type());
}

torch::Tensor rope_inverse_frequencies(const LlamaConfig& c) {
  // inv_freq_i = theta^(-2i/D), i < D/2
  auto inv_freq =
      torch::pow(c.rope_theta, -torch::arange(0, c.head_dim, 2, torch::kFloat64) / double(c.head_dim));
  if (c.rope_scaling_type == "linear") return (inv_freq / c.rope_scaling_factor).to(torch::kFloat32);
  if (c.rope_scaling_type == "llama3") {
    // Long wavelengths are interpolated by `factor`, short ones kept, the band between blended.
    const double old_context = double(c.rope_original_max_position_embeddings);
    const double low_wavelen = old_context / c.rope_low_freq_factor;
    const double high_wavelen = old_context / c.rope_high_freq_factor;
    auto wavelen = 2 * M_PI / inv_freq;
    auto scaled = torch::where(wavelen > low_wavelen, inv_freq / c.rope_scaling_factor, inv_freq);
    auto smooth =
        (old_context / wavelen - c.rope_low_freq_factor) / (c.rope_high_freq_factor - c.rope_low_freq_factor);
    auto blended = (1 - smooth) * scaled / c.rope_scaling_factor + smooth * scaled;
    auto medium = (wavelen >= high_wavelen).logical_and(wavelen <= low_wavelen);
    return torch::where(medium, blended, scaled).to(torch::kFloat32);
  }
  return inv_freq.to(torch::kFloat32);
}

RotaryTables rotary_tables(const torch::Tensor& position_ids, const torch::Tensor& inv_freq,
                           torch::ScalarType dtype) {
  auto freqs = position_ids.to(torch::kFloat32).unsqueeze(-1) *
               inv_freq.to(position_ids.device(), torch::kFloat32);  // (B, T, D/2)
  auto emb = torch::cat({freqs, freqs}, -1).unsqueeze(1);            // (B, 1, T, D)
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

torch::Tensor apply_rotary(const torch::Tensor& x, const RotaryTables& tables) {
  const int64_t half = x.size(-1) / 2;
  auto x1 = x.narrow(-1, 0, half);
  auto x2 = x.narrow(-1, half, half);
  auto rotated = torch::cat({-x2, x1}, -1);
  return x * tables.cos + rotated * tables.sin;
}

MLPImpl::MLPImpl(int64_t hidden, int64_t intermediate) {
  auto linear = [](int64_t in, int64_t out) { return Projection(in, out, false); };
  gate_proj = register_module("gate_proj", linear(hidden, intermediate));
  up_proj = register_module("up_proj", linear(hidden, intermediate));
  down_proj = register_module("down_proj", linear(intermediate, hidden));
}

torch::Tensor MLPImpl::forward(const torch::Tensor& x) {
  return down_proj(torch::silu(gate_proj(x)) * up_proj(x));
}

AttentionImpl::AttentionImpl(const LlamaConfig& c)
    : num_heads_(c.num_attention_heads), num_kv_heads_(c.num_key_value_heads), head_dim_(c.head_dim) {
  auto linear = [](int64_t in, int64_t out, bool bias) { return Projection(in, out, bias); };
  q_proj = register_module("q_proj", linear(c.hidden_size, num_heads_ * head_dim_, c.attention_bias));
  k_proj = register_module("k_proj", linear(c.hidden_size, num_kv_heads_ * head_dim_, c.attention_bias));
  v_proj = register_module("v_proj", linear(c.hidden_size, num_kv_heads_ * head_dim_, c.attention_bias));
  o_proj = register_module("o_proj", linear(num_heads_ * head_dim_, c.hidden_size, false));
}

namespace {
// (B, Hkv, T, D) -> (B, Hkv·n_rep, T, D), each kv head repeated for its query group.
[[maybe_unused]] torch::Tensor repeat_kv(const torch::Tensor& x, int64_t n_rep) {
  if (n_rep == 1) return x;
  const auto B = x.size(0), H = x.size(1), T = x.size(2), D = x.size(3);
  return x.unsqueeze(2).expand({B, H, n_rep, T, D}).reshape({B, H * n_rep, T, D});
}
}  // namespace

#if !DPO_HAVE_SDPA
namespace {
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Causal attention one block of queries at a time (the block scheme of FlashAttention-2, in
// libtorch ops): a block of queries t0..t1 only meets keys up to past + t1, so the masked upper
// triangle is never computed, and only the row log-sum-exps are kept for the backward pass, which
// recomputes each block's probabilities. The (B, H, T, S) probabilities of plain attention (134 MB
// a layer for 8 pairs of 512 tokens) never exist.
// q: (B, Hkv, rep, T, D), the rep query heads of each kv head; k, v: (B, Hkv, S, D); bias: (B, 1, T, S)
// additive, S = past + T. Returns (B, Hkv, rep, T, D).
class BlockwiseAttention : public torch::autograd::Function<BlockwiseAttention> {
 public:
  static constexpr int64_t kBlock = 128;

  struct Block {
    int64_t t0, tb, keys;  // first query, queries, keys it can see
  };
  static std::vector<Block> blocks(int64_t T, int64_t S) {
    std::vector<Block> out;
    for (int64_t t0 = 0; t0 < T; t0 += kBlock) {
      const int64_t tb = std::min(kBlock, T - t0);
      out.push_back({t0, tb, S - T + t0 + tb});
    }
    return out;
  }

  // One block's fp32 scores, bias + q·kᵀ/√D: (B, Hkv, rep, tb, keys).
  static torch::Tensor scores(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& bias,
                              const Block& b, double scale) {
    const auto B = q.size(0), Hkv = q.size(1), rep = q.size(2), D = q.size(4);
    auto qb = q.narrow(3, b.t0, b.tb).reshape({B, Hkv, rep * b.tb, D});
    auto s = torch::matmul(qb, k.narrow(2, 0, b.keys).transpose(-2, -1)).view({B, Hkv, rep, b.tb, b.keys});
    auto bb = bias.narrow(2, b.t0, b.tb).narrow(3, 0, b.keys).unsqueeze(1);  // (B, 1, 1, tb, keys)
    return torch::add(bb.to(torch::kFloat32), s.to(torch::kFloat32), scale);
  }

  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const torch::Tensor& bias) {
    const auto B = q.size(0), Hkv = q.size(1), rep = q.size(2), T = q.size(3), D = q.size(4);
    const double scale = 1.0 / std::sqrt(static_cast<double>(D));
    auto out = torch::empty({B, Hkv, rep, T, D}, v.options());
    auto lse = torch::empty({B, Hkv, rep, T}, q.options().dtype(torch::kFloat32));
    for (const auto& b : blocks(T, k.size(2))) {
      auto s = scores(q, k, bias, b, scale);  // (B, Hkv, rep, tb, keys)
      auto l = s.logsumexp(-1, /*keepdim=*/true);
      auto p = s.sub_(l).exp_().view({B, Hkv, rep * b.tb, b.keys}).to(v.scalar_type());
      out.narrow(3, b.t0, b.tb).copy_(torch::matmul(p, v.narrow(2, 0, b.keys)).view({B, Hkv, rep, b.tb, D}));
      lse.narrow(3, b.t0, b.tb).copy_(l.squeeze(-1));
    }
    ctx->save_for_backward({q, k, v, bias, out, lse});
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto &q = saved[0], &k = saved[1], &v = saved[2], &bias = saved[3], &out = saved[4],
               &lse = saved[5];
    const auto B = q.size(0), Hkv = q.size(1), rep = q.size(2), T = q.size(3), D = q.size(4);
    const double scale = 1.0 / std::sqrt(static_cast<double>(D));
    auto dout = grad_outputs[0].contiguous();  // (B, Hkv, rep, T, D)
    // Σ_d dO·O per query row: the softmax backward's subtracted term.
    auto delta = (dout.to(torch::kFloat32) * out.to(torch::kFloat32))
                     .sum(-1, /*keepdim=*/true);  // (B, Hkv, rep, T, 1)
    auto dq = torch::empty_like(q), dk = torch::zeros_like(k), dv = torch::zeros_like(v);
    for (const auto& b : blocks(T, k.size(2))) {
      auto kb = k.narrow(2, 0, b.keys), vb = v.narrow(2, 0, b.keys);
      auto p = scores(q, k, bias, b, scale)
                   .sub_(lse.narrow(3, b.t0, b.tb).unsqueeze(-1))
                   .exp_();  // (B, Hkv, rep, tb, keys)
      auto pf = p.view({B, Hkv, rep * b.tb, b.keys});
      auto dob = dout.narrow(3, b.t0, b.tb).reshape({B, Hkv, rep * b.tb, D});
      dv.narrow(2, 0, b.keys)
          .add_(torch::matmul(pf.to(v.scalar_type()).transpose(-2, -1), dob.to(v.scalar_type())));
      // dS = P ∘ (dP − δ), dP = dO·Vᵀ; the 1/√D of the scores goes on dS once.
      auto ds =
          torch::matmul(dob, vb.transpose(-2, -1)).to(torch::kFloat32).view({B, Hkv, rep, b.tb, b.keys});
      ds.sub_(delta.narrow(3, b.t0, b.tb)).mul_(p).mul_(scale);
      auto dsf = ds.view({B, Hkv, rep * b.tb, b.keys}).to(q.scalar_type());
      dq.narrow(3, b.t0, b.tb).copy_(torch::matmul(dsf, kb).view({B, Hkv, rep, b.tb, D}));
      auto qb = q.narrow(3, b.t0, b.tb).reshape({B, Hkv, rep * b.tb, D});
      dk.narrow(2, 0, b.keys).add_(torch::matmul(dsf.transpose(-2, -1), qb));
    }
    return {dq, dk, dv, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor blockwise_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                  const torch::Tensor& bias) {
  return BlockwiseAttention::apply(q, k, v, bias);
}
#endif

torch::Tensor causal_padding_mask(const torch::Tensor& attention_mask, int64_t past, int64_t sliding_window) {
  const auto S = attention_mask.size(1);
  auto options = attention_mask.options().dtype(torch::kLong);
  auto query_pos = torch::arange(past, S, options).unsqueeze(1);  // (T, 1)
  auto key_pos = torch::arange(0, S, options).unsqueeze(0);       // (1, S)
  auto causal = key_pos <= query_pos;                             // (T, S)
  if (sliding_window > 0) causal = causal & (query_pos - key_pos < sliding_window);
  auto keys = attention_mask.to(torch::kBool).unsqueeze(1).unsqueeze(2);  // (B, 1, 1, S)
  return causal.unsqueeze(0).unsqueeze(0) & keys;                         // (B, 1, T, S)
}

torch::Tensor attention_bias(const torch::Tensor& allowed, torch::ScalarType dtype) {
  const double hidden = dtype == torch::kFloat64 ? std::numeric_limits<double>::lowest() / 2
                                                 : std::numeric_limits<float>::lowest() / 2;
  return torch::zeros(allowed.sizes(), allowed.options().dtype(dtype))
      .masked_fill_(allowed.logical_not(), hidden);
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const RotaryTables& rotary,
                                     const torch::Tensor& bias, KVCache* cache, size_t layer) {
  const auto B = x.size(0), T = x.size(1);
  const int64_t Hkv = num_kv_heads_, rep = num_heads_ / num_kv_heads_, D = head_dim_;
  auto q = q_proj(x).view({B, T, num_heads_, D}).transpose(1, 2);  // (B, H, T, D)
  auto k = k_proj(x).view({B, T, Hkv, D}).transpose(1, 2);         // (B, Hkv, T, D)
  auto v = v_proj(x).view({B, T, Hkv, D}).transpose(1, 2);         // (B, Hkv, T, D)
  q = apply_rotary(q, rotary);
  k = apply_rotary(k, rotary);
  if (cache != nullptr) {
    if (cache->keys.size() <= layer) {
      cache->keys.resize(layer + 1);
      cache->values.resize(layer + 1);
    }
    auto& ck = cache->keys[layer];
    auto& cv = cache->values[layer];
    ck = ck.defined() ? torch::cat({ck, k}, 2) : k;  // (B, Hkv, S, D)
    cv = cv.defined() ? torch::cat({cv, v}, 2) : v;
    k = ck;
    v = cv;
  }
#if DPO_HAVE_SDPA
  // The fused kernels (flash / memory-efficient on CUDA, a fused loop on CPU).
  auto out = at::scaled_dot_product_attention(q, repeat_kv(k, rep), repeat_kv(v, rep),
                                              bias.to(q.scalar_type()), 0.0, false);  // (B, H, T, D)
  out = out.transpose(1, 2).reshape({B, T, num_heads_ * D});
#else
  auto out = blockwise_attention(q.reshape({B, Hkv, rep, T, D}), k, v, bias)  // (B, Hkv, rep, T, D)
                 .permute({0, 3, 1, 2, 4})
                 .reshape({B, T, num_heads_ * D});  // (B, T, H·D)
#endif
  return o_proj(out);
}

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
  auto x = embed_tokens(input_ids);                                            // (B, T, C)
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
  return torch::matmul(hidden, head_weight().t());                 // (B, T, V)
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
