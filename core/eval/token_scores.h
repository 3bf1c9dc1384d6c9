#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/data/preference_pair.h"
#include "core/model/llama.h"
#include "core/tokenizer/tokenizer.h"

namespace dpo {

// One response token as the policy and the reference see it: what the pair inspector's heatmap
// colours. The sum of logratio() over a response is that response's sequence log-ratio (a or b).
struct TokenScore {
  int64_t id = 0;
  std::string piece;          // the tokenizer's piece ("▁the", "Ġthe", "<0x0A>")
  std::string text;           // what the token adds to the decoded text (spaces included)
  double policy_logp = 0;     // log π(y_t | x, y_<t)
  double reference_logp = 0;  // log π_ref(y_t | x, y_<t); 0 without a reference
  double logratio() const { return policy_logp - reference_logp; }
};

struct PairTokenScores {
  size_t line = 0;
  std::string prompt;  // decoded prompt text
  std::vector<TokenScore> chosen;
  std::vector<TokenScore> rejected;
  bool has_reference = false;
};

// Per-token log-probabilities of one pair's completions under the policy and the reference (null:
// reference-free, reference log-probs 0). One forward pass of each model over the (2, T) batch.
PairTokenScores score_pair_tokens(LlamaForCausalLM& policy, LlamaForCausalLM* reference, const TokenizedPair& pair,
                                  int64_t pad_id, const Tokenizer& tokenizer);

}  // namespace dpo
