#include "core/model/attention.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "core/runtime/torch_compat.h"

namespace dpo {

AttentionImpl::AttentionImpl(const LlamaConfig& c)
    : num_heads_(c.num_attention_heads), num_kv_heads_(c.num_key_value_heads), head_dim_(c.head_dim) {
  auto linear = [](int64_t in, int64_t out, bool bias) {
    return Projection(in, out, bias);
  };
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

torch::Tensor causal_padding_mask(const torch::Tensor& attention_mask, int64_t past, int64_t sliding_window) {
  const auto S = attention_mask.size(1);
  auto options = attention_mask.options().dtype(torch::kLong);
  auto query_pos = torch::arange(past, S, options).unsqueeze(1);       // (T, 1)
  auto key_pos = torch::arange(0, S, options).unsqueeze(0);              // (1, S)
  auto causal = key_pos <= query_pos;                                    // (T, S)
  if (sliding_window > 0) causal = causal & (query_pos - key_pos < sliding_window);
  auto keys = attention_mask.to(torch::kBool).unsqueeze(1).unsqueeze(2);  // (B, 1, 1, S)
  return causal.unsqueeze(0).unsqueeze(0) & keys;  // (B, 1, T, S)
}

torch::Tensor attention_bias(const torch::Tensor& allowed, torch::ScalarType dtype) {
  const double hidden = dtype == torch::kFloat64 ? std::numeric_limits<double>::lowest() / 2
                                                 : std::numeric_limits<float>::lowest() / 2;
  return torch::zeros(allowed.sizes(), allowed.options().dtype(dtype)).masked_fill_(allowed.logical_not(), hidden);
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
  const auto S = k.size(2);
#if DPO_HAVE_SDPA
  // The fused kernels (flash / memory-efficient on CUDA, a fused loop on CPU).
  auto out = at::scaled_dot_product_attention(q, repeat_kv(k, rep), repeat_kv(v, rep),
                                              bias.to(q.scalar_type()), 0.0, false);  // (B, H, T, D)
  out = out.transpose(1, 2).reshape({B, T, num_heads_ * D});
#else
  // The rep query heads of a kv group stacked along time, so keys and values are never repeated:
  // (B, Hkv, rep·T, D) against (B, Hkv, S, D).
  auto grouped = q.reshape({B, Hkv, rep * T, D});
  auto scores = torch::matmul(grouped, k.transpose(-2, -1)).view({B, Hkv, rep, T, S});  // (B, Hkv, rep, T, S)
  // bias + scores/√D in one pass; the bias broadcasts over kv heads and their query groups.
  scores = torch::add(bias.unsqueeze(1), scores, 1.0 / std::sqrt(static_cast<double>(D)));
  auto probs = torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type());
  auto out = torch::matmul(probs.view({B, Hkv, rep * T, S}), v);                   // (B, Hkv, rep·T, D)
  out = out.view({B, Hkv, rep, T, D}).permute({0, 3, 1, 2, 4}).reshape({B, T, num_heads_ * D});  // (B, T, H·D)
#endif
  return o_proj(out);
}

}  // namespace dpo
