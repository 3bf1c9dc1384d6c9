#pragma once
#include <cstdint>
#include <vector>

#include "core/data/preference_pair.h"
#include "core/tokenizer/tokenizer.h"

namespace dpo {

struct TokenizeOptions {
  int64_t max_length = 256;         // prompt + longer completion
  int64_t max_prompt_length = 128;  // the prompt keeps its end when cut
  bool add_bos = true;              // prepend the tokenizer's BOS (when it has one)
};

// Prompt and completions are encoded separately so no token spans the boundary: prompt_ids is
// then an exact prefix of the sequence scored. BOS once at the start, EOS after each completion.
TokenizedPair tokenize_pair(const Tokenizer& tokenizer, const PreferencePair& pair,
                            const TokenizeOptions& options);

std::vector<TokenizedPair> tokenize_pairs(const Tokenizer& tokenizer,
                                          const std::vector<PreferencePair>& pairs,
                                          const TokenizeOptions& options);

}  // namespace dpo
