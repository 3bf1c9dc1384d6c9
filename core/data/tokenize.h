#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/data/layout.h"
#include "core/data/preference_pair.h"
#include "core/tokenizer/tokenizer.h"
#include "core/types/run_parts.h"

namespace dpo {

PromptTruncation parse_prompt_truncation(std::string_view name);  // "keep_end" or "keep_start"

// Prompt and completions are encoded separately so no token spans the boundary: prompt_ids is
// then an exact prefix of the sequence scored. BOS exactly once at the start: a prompt that already
// begins with the BOS text (a chat template put it there) gets the BOS id in place of that text,
// whatever add_bos says. EOS once after each completion: a completion ending in the EOS text (plus
// whitespace) gets the EOS id in place of it. Throws DataError "line N: ..." for a prompt that leaves
// no room for the completion under max_length.
TokenizedPair tokenize_pair(const Tokenizer& tokenizer, const PreferencePair& pair,
                            const TokenizeOptions& options);

std::vector<TokenizedPair> tokenize_pairs(const Tokenizer& tokenizer,
                                          const std::vector<PreferencePair>& pairs,
                                          const TokenizeOptions& options);

struct TokenizedUnpaired {
  std::vector<int64_t> prompt_ids;
  std::vector<int64_t> completion_ids;
  bool label = false;
  size_t line = 0;
  bool prompt_truncated = false;
  bool completion_truncated = false;
};

TokenizedUnpaired tokenize_unpaired(const Tokenizer& tokenizer, const UnpairedExample& example,
                                    const TokenizeOptions& options);

struct TokenizeReport {
  size_t prompt_truncated = 0;      // rows whose prompt was cut
  size_t completion_truncated = 0;  // rows with a completion cut
  std::vector<SkippedRow> skipped;  // rows dropped under BadRowPolicy::kSkip
};

struct TokenizedDataset {
  std::vector<TokenizedPair> pairs;
  std::vector<TokenizedUnpaired> unpaired;
  TokenizeReport report;
  bool from_cache = false;
};

// Tokenizes every row on `threads` threads (0: all cores), in order. Errors name dataset.source and
// the row's line; under kSkip such rows are dropped and listed in the report instead.
TokenizedDataset tokenize_dataset(const Tokenizer& tokenizer, const PreferenceDataset& dataset,
                                  const TokenizeOptions& options,
                                  BadRowPolicy on_bad_row = BadRowPolicy::kError, unsigned threads = 0);

}  // namespace dpo
