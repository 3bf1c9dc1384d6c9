#include "core/synth/sample_pairs.h"

#include <torch/torch.h>

#include <algorithm>

#include "core/data/tokenize.h"
#include "core/runtime/error.h"

namespace dpo {

std::vector<PromptCandidates> sample_candidates(LlamaForCausalLM& model, const Tokenizer& tokenizer,
                                                const std::vector<std::string>& prompts,
                                                const CandidateSampling& sampling,
                                                const SynthProgress& progress) {
  if (sampling.k < 1 || sampling.k > kMaxCandidatesPerPrompt)
    throw ConfigError("k " + std::to_string(sampling.k) + ": expected 1 to " +
                      std::to_string(kMaxCandidatesPerPrompt) + " answers per prompt");
  auto config = sampling.generation;
  if (auto eos = tokenizer.eos_id()) config.stop_token_ids.push_back(*eos);
  if (model->config().eos_token_id >= 0) config.stop_token_ids.push_back(model->config().eos_token_id);
  for (auto id : model->config().extra_eos_token_ids) config.stop_token_ids.push_back(id);
  const int64_t pad = tokenizer.pad_id().value_or(tokenizer.eos_id().value_or(0));

  std::vector<std::vector<int64_t>> prompt_ids;
  for (size_t p = 0; p < prompts.size(); ++p) {
    try {
      prompt_ids.push_back(
          tokenize_unpaired(tokenizer, {prompts[p], "", true, p + 1}, sampling.tokenize).prompt_ids);
    } catch (const Error& e) {
      throw DataError("prompt " + std::to_string(p + 1) + ": " + e.what());
    }
  }

  const auto k = static_cast<size_t>(sampling.k);
  const size_t per_call =
      std::max<size_t>(1, static_cast<size_t>(std::max<int64_t>(1, sampling.batch_sequences)) / k);
  std::vector<PromptCandidates> out(prompts.size());
  for (size_t start = 0, call = 0; start < prompts.size(); start += per_call, ++call) {
    if (progress && !progress("sampling answers", start, prompts.size()))
      throw Cancelled("sampling cancelled after " + std::to_string(start) + " of " +
                      std::to_string(prompts.size()) + " prompts");
    const size_t n = std::min(per_call, prompts.size() - start);
    std::vector<std::vector<int64_t>> batch;  // (n·k) rows: each prompt k times in a row
    for (size_t p = start; p < start + n; ++p)
      for (size_t a = 0; a < k; ++a) batch.push_back(prompt_ids[p]);
    config.seed = sampling.generation.seed + call;
    const auto generated = generate(model, batch, pad, config, nullptr, &tokenizer);
    for (size_t row = 0; row < generated.size(); ++row) {
      auto tokens = generated[row].tokens;
      if (!tokens.empty() && generated[row].finish == FinishReason::StopToken) tokens.pop_back();
      std::vector<int> ids(tokens.begin(), tokens.end());
      auto& target = out[start + row / k];
      target.prompt = prompts[start + row / k];
      target.answers.push_back({tokenizer.decode(ids), 0.0, static_cast<int64_t>(tokens.size()), {}});
    }
  }
  if (progress) progress("sampling answers", prompts.size(), prompts.size());
  return out;
}

void score_candidates(const CompositeScorer& scorer, std::vector<PromptCandidates>& prompts) {
  std::vector<ScoreInput> inputs;
  for (size_t p = 0; p < prompts.size(); ++p)
    for (size_t a = 0; a < prompts[p].answers.size(); ++a) {
      const auto& answer = prompts[p].answers[a];
      inputs.push_back({prompts[p].prompt, answer.text, p, a, answer.length});
    }
  const auto scores = scorer.score(inputs);
  size_t i = 0;
  for (auto& prompt : prompts)
    for (auto& answer : prompt.answers) {
      answer.score = scores.total[i];
      answer.term_scores.clear();
      for (const auto& term : scores.terms) answer.term_scores.push_back(term[i]);
      ++i;
    }
}

}  // namespace dpo
