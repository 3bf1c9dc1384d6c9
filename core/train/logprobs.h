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

struct ResponseScores {
  SequenceLogps logps;
  torch::Tensor mean_logits;  // (N) mean logit over response positions and the vocabulary (no grad)
  // (N) per-token mean of log π(y_t) − log Σ_v π(v)² (WPO's weight, no grad); only when asked for
  torch::Tensor wpo_mean{};
};

struct ResponseScoreOptions {
  // (N, T) float in the input_ids frame: the sum becomes Σ_t w_t·log π(y_t) (LD-DPO). Undefined: 1.
  torch::Tensor token_weights{};
  bool wpo = false;  // fill ResponseScores::wpo_mean
};

// Positions per chunk that keep one chunk's fp32 logits near 32 MB (at least 64).
int64_t default_logit_chunk_rows(int64_t vocab);

// The same sums as response_logprobs(hidden·headᵀ, ...) without ever holding the (N, T, V) logits:
// only the positions that predict a response token are scored, chunk_rows of them at a time
// (lm_head, logsumexp, gather), and the backward pass recomputes each chunk's logits instead of
// keeping them (the idea of Liger-Kernel's fused linear cross-entropy). Memory above the inputs is
// one chunk of logits. hidden: (N, T, C) final-norm states; head: (V, C) lm_head (or tied embedding)
// weight; chunk_rows: -1 default_logit_chunk_rows, 0 all positions in one chunk. Under CUDA autocast
// the head matmuls run in the autocast dtype, the softmax in fp32.
ResponseScores response_logprobs_from_hidden(const torch::Tensor& hidden, const torch::Tensor& head,
                                             const torch::Tensor& input_ids,
                                             const torch::Tensor& response_mask, int64_t chunk_rows = -1,
                                             const ResponseScoreOptions& options = {});

}  // namespace dpo
