#pragma once
#include <torch/types.h>

#include "core/data/collator.h"
#include "core/model/llama.h"
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
// reference sums when the loss needs them. Shared by the trainer and evaluation.
BatchLogps batch_preference_logps(LlamaForCausalLM& policy, const ReferenceSource& reference,
                                  const PreferenceBatch& batch, const LossConfig& loss);

}  // namespace dpo
