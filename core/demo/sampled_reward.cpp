#include "core/demo/sampled_reward.h"

#include <torch/torch.h>

#include "core/demo/true_reward.h"
#include "core/generate/generate.h"

namespace dpo {

SampledReward sample_true_reward(LlamaForCausalLM& policy, const Tokenizer& tokenizer,
                                 const std::vector<std::string>& prompts, const SampleSettings& settings) {
  SampledReward out;
  if (prompts.empty()) return out;
  std::vector<std::vector<int64_t>> ids;
  for (const auto& p : prompts) {
    std::vector<int64_t> row;
    if (auto bos = tokenizer.bos_id()) row.push_back(*bos);
    for (int id : tokenizer.encode(p)) row.push_back(id);
    ids.push_back(std::move(row));
  }
  GenerationConfig config;
  config.max_new_tokens = settings.max_new_tokens;
  config.temperature = settings.temperature;
  config.seed = settings.seed;
  if (auto eos = tokenizer.eos_id()) config.stop_token_ids.push_back(*eos);
  const int64_t pad = tokenizer.pad_id().value_or(tokenizer.eos_id().value_or(0));
  const bool was_training = policy->is_training();
  policy->eval();
  std::vector<GeneratedSequence> generated;
  {
    torch::NoGradGuard no_grad;
    generated = generate(policy, ids, pad, config);
  }
  if (was_training) policy->train();
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<int> text_ids;
    for (auto t : generated[i].tokens)
      if (!tokenizer.eos_id() || t != *tokenizer.eos_id()) text_ids.push_back(static_cast<int>(t));
    SampledAnswer a{prompts[i], tokenizer.decode(text_ids), 0,
                    static_cast<int64_t>(generated[i].tokens.size())};
    a.reward = true_reward(a.prompt, a.answer).reward;
    out.mean_reward += a.reward;
    out.mean_tokens += static_cast<double>(a.tokens);
    out.answers.push_back(std::move(a));
  }
  out.mean_reward /= static_cast<double>(prompts.size());
  out.mean_tokens /= static_cast<double>(prompts.size());
  return out;
}

}  // namespace dpo
