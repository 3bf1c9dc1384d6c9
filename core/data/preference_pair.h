#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dpo {

// One preference judgement: for `prompt`, `chosen` was preferred over `rejected`.
struct PreferencePair {
  std::string prompt;
  std::string chosen;
  std::string rejected;
  size_t line = 0;  // 1-based line (or row) in the source file, for error messages
  // UltraFeedback-style ratings when the file has them; margin() is their difference.
  std::optional<double> score_chosen;
  std::optional<double> score_rejected;
  std::optional<double> margin() const {
    if (!score_chosen || !score_rejected) return std::nullopt;
    return *score_chosen - *score_rejected;
  }
};

// One KTO-style judgement: `completion` for `prompt` is desirable (label true) or not.
struct UnpairedExample {
  std::string prompt;
  std::string completion;
  bool label = false;
  size_t line = 0;
};

// Token ids of one pair. prompt_ids starts with BOS; completions end with EOS when the tokenizer
// has one. prompt_ids + chosen_ids is the chosen sequence the model scores.
struct TokenizedPair {
  std::vector<int64_t> prompt_ids;
  std::vector<int64_t> chosen_ids;
  std::vector<int64_t> rejected_ids;
  size_t line = 0;
  bool prompt_truncated = false;      // prompt cut to max_prompt_length
  bool completion_truncated = false;  // chosen or rejected cut to fit max_length / max_completion_length
};

}  // namespace dpo
