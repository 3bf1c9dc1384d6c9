#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/model/llama.h"
#include "core/tokenizer/tokenizer.h"

namespace dpo {

struct GenerationConfig {
  int64_t max_new_tokens = 64;
  double temperature = 0.0;  // 0: greedy
  int64_t top_k = 0;         // 0: off
  double top_p = 1.0;        // 1: off
  double repetition_penalty = 1.0;
  uint64_t seed = 0;
  std::vector<int64_t> stop_token_ids;    // e.g. EOS; the stop token is kept in the output
  std::vector<std::string> stop_strings;  // need a tokenizer; the output is cut after the match
  bool use_cache = true;                  // false recomputes the whole prefix each step (for tests)
};

enum class FinishReason { Length, StopToken, StopString, Cancelled };

struct GeneratedSequence {
  std::vector<int64_t> tokens;  // new tokens only
  FinishReason finish = FinishReason::Length;
};

// Called once per new token of each unfinished sequence; return false to stop everything.
using TokenCallback = std::function<bool(size_t sequence, int64_t token)>;

// Batched decoding: prompts are left-padded with pad_id so all sequences end at the same position.
std::vector<GeneratedSequence> generate(LlamaForCausalLM& model,
                                        const std::vector<std::vector<int64_t>>& prompts, int64_t pad_id,
                                        const GenerationConfig& config,
                                        const TokenCallback& on_token = nullptr,
                                        const Tokenizer* tokenizer = nullptr);

const char* finish_reason_name(FinishReason reason);

}  // namespace dpo
