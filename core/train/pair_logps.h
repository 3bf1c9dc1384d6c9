#pragma once
#include "core/data/collator.h"
#include "core/model/llama.h"
#include "core/train/losses.h"

namespace dpo {

// One policy forward over a collated (2B, T) batch, split into chosen / rejected halves, plus a
// gradient-free reference forward when the loss needs it. Shared by the trainer and evaluation.
PreferenceLogps batch_preference_logps(LlamaForCausalLM& policy, LlamaForCausalLM& reference,
                                       const PreferenceBatch& batch, const LossConfig& loss);

}  // namespace dpo
