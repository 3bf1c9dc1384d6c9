#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dpo {

// One preference judgement: for `prompt`, `chosen` was preferred over `rejected`.
struct PreferencePair {
  std::string prompt;
  std::string chosen;
  std::string rejected;
  size_t line = 0;  // 1-based line (or row) in the source file, for error messages
};

// Token ids of one pair. prompt_ids starts with BOS; completions end with EOS when the tokenizer
// has one. prompt_ids + chosen_ids is the chosen sequence the model scores.
struct TokenizedPair {
  std::vector<int64_t> prompt_ids;
  std::vector<int64_t> chosen_ids;
  std::vector<int64_t> rejected_ids;
  size_t line = 0;
};

}  // namespace dpo
