#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/data/preference_pair.h"
#include "core/model/llama.h"
#include "core/tokenizer/tokenizer.h"
#include "core/types/eval_records.h"

namespace dpo {

// Per-token log-probabilities of one pair's completions under the policy and the reference (null:
// reference-free, reference log-probs 0). One forward pass of each model over the (2, T) batch.
PairTokenScores score_pair_tokens(LlamaForCausalLM& policy, LlamaForCausalLM* reference,
                                  const TokenizedPair& pair, int64_t pad_id, const Tokenizer& tokenizer);

}  // namespace dpo
