#pragma once
#include <torch/types.h>

#include "core/data/collator.h"
#include "core/model/llama.h"
#include "core/train/logprobs.h"
#include "core/train/losses.h"

namespace dpo {

// Where π_ref's sums come from: precomputed values for the batch's pairs, or a forward pass of
// `model`. Neither is needed for reference-free losses. `model` may be the policy itself when it
// carries LoRA adapters: the adapters are disabled for the reference pass.
struct ReferenceSource {
  LlamaForCausalLM* model = nullptr;
  torch::Tensor chosen{};    // (B) precomputed log π_ref(y_w | x), or undefined
  torch::Tensor rejected{};  // (B)
};

struct BatchLogps {
  PreferenceLogps logps;
  torch::Tensor logits_chosen{};    // (B) mean policy logit over response positions and vocabulary
  torch::Tensor logits_rejected{};  // (B)
  bool ran_reference = false;       // a reference forward pass happened
};

// One policy forward over a collated (2B, T) batch, split into chosen / rejected halves, plus the
// reference sums when the loss needs them. Shared by the trainer and evaluation. The log-probs come
// from the final hidden states in chunks of logit_chunk_rows positions (response_logprobs_from_hidden).
BatchLogps batch_preference_logps(LlamaForCausalLM& policy, const ReferenceSource& reference,
                                  const PreferenceBatch& batch, const LossConfig& loss,
                                  int64_t logit_chunk_rows = -1);

// Σ log π over the response tokens of a collated batch's rows: (N) sums, (N) token counts.
ResponseScores model_response_logprobs(LlamaForCausalLM& model, const torch::Tensor& input_ids,
                                       const torch::Tensor& attention_mask,
                                       const torch::Tensor& response_mask, int64_t logit_chunk_rows = -1,
                                       const ResponseScoreOptions& options = {});

// LD-DPO's token weights for a collated (2B, T) batch (chosen rows, then rejected): 1 on the first
// min(|y_w|, |y_l|) response tokens of each pair's two rows, alpha on the rest, 0 off the response.
torch::Tensor ld_token_weights(const torch::Tensor& response_mask, int64_t pairs, double alpha);

}  // namespace dpo
