#pragma once
#include <torch/types.h>

#include <vector>

namespace dpo {

// Logit processors in Hugging Face's order: repetition penalty, temperature, top-k, top-p.
// logits: (B, V) float32; history: tokens each row has seen (prompt + generated).
void apply_repetition_penalty(torch::Tensor& logits, const std::vector<std::vector<int64_t>>& history,
                              double penalty);
void apply_top_k(torch::Tensor& logits, int64_t k);
void apply_top_p(torch::Tensor& logits, double p);

}  // namespace dpo
