#pragma once
#include <torch/types.h>

#include <vector>

namespace dpo {

// Keys and values of every layer for the tokens seen so far: (B, Hkv, S, D) each, before the
// grouped heads are repeated, so the cache is num_attention_heads / num_key_value_heads smaller.
struct KVCache {
  std::vector<torch::Tensor> keys;
  std::vector<torch::Tensor> values;

  int64_t length() const { return keys.empty() || !keys.front().defined() ? 0 : keys.front().size(2); }
};

}  // namespace dpo
