#pragma once
// Torch-free value types of the core: included by the core, the app and the Qt widgets alike.
#include <cstdint>
#include <string>
#include <vector>

namespace dpo {

// How tokenize_pair (core/data/tokenize.h) encodes a pair.
enum class PromptTruncation { kKeepEnd, kKeepStart };

struct TokenizeOptions {
  int64_t max_length = 256;         // prompt + longer completion; a prompt that alone reaches it is an error
  int64_t max_prompt_length = 128;  // <= 0: no limit of its own
  bool add_bos = true;              // prepend the tokenizer's BOS (when it has one)
  int64_t max_completion_length = 0;  // <= 0: only max_length limits completions
  PromptTruncation prompt_truncation = PromptTruncation::kKeepEnd;
  bool add_eos = true;  // append the tokenizer's EOS to completions (when it has one)
};

// LoRA adapters (core/model/lora.h) on the projections named in target_modules: PEFT's LoraConfig
// fields (adapter_config.json).
struct LoraConfig {
  int64_t r = 0;  // 0: no LoRA
  double alpha = 16;
  double dropout = 0.0;
  std::vector<std::string> target_modules{"q_proj", "k_proj", "v_proj", "o_proj"};
};

}  // namespace dpo
