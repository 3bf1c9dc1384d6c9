#pragma once
#include <torch/types.h>

namespace dpo {

struct SequenceLogps {
  torch::Tensor sum;     // (N) Σ_t log π(y_t | x, y_<t) over response tokens
  torch::Tensor tokens;  // (N) number of response tokens
};

// logits: (N, T, V) where logits[:, t] predicts input_ids[:, t+1]; input_ids: (N, T);
// response_mask: (N, T), 1 on response tokens in the input_ids frame. Prompt tokens and padding
// contribute nothing (seed 002 §7).
SequenceLogps response_logprobs(const torch::Tensor& logits, const torch::Tensor& input_ids,
                                const torch::Tensor& response_mask);

}  // namespace dpo
