#pragma once
#include <vector>

#include "core/data/preference_pair.h"
#include "core/model/llama.h"
#include "core/train/losses.h"

namespace dpo {

// Implicit-reward evaluation of a policy against its reference on a set of pairs.
struct PreferenceEval {
  double accuracy = 0;      // share of pairs with r_w > r_l
  double mean_margin = 0;   // mean r_w − r_l
  double mean_loss = 0;
  std::vector<double> margins;  // per pair, in input order
};

PreferenceEval evaluate_preferences(LlamaForCausalLM& policy, LlamaForCausalLM& reference,
                                    const std::vector<TokenizedPair>& pairs, int64_t pad_id,
                                    const LossConfig& loss, int64_t batch_size = 16);

}  // namespace dpo
