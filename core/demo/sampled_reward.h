#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/model/llama.h"
#include "core/tokenizer/tokenizer.h"

namespace dpo {

// The true reward (core/demo/true_reward.h) of the answers a policy samples for demo prompts:
// the quantity DPO is meant to raise, measured outside the training loss.
struct SampledAnswer {
  std::string prompt;
  std::string answer;
  double reward = 0;
  int64_t tokens = 0;  // new tokens, EOS included
};

struct SampledReward {
  double mean_reward = 0;
  double mean_tokens = 0;
  std::vector<SampledAnswer> answers;  // in prompt order
};

struct SampleSettings {
  int64_t max_new_tokens = 32;
  double temperature = 0.0;  // 0: greedy, the same answers every time
  uint64_t seed = 0;
};

SampledReward sample_true_reward(LlamaForCausalLM& policy, const Tokenizer& tokenizer,
                                 const std::vector<std::string>& prompts,
                                 const SampleSettings& settings = {});

}  // namespace dpo
