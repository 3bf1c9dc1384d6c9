#pragma once
// Synthetic preference pairs from a model's own samples (issue 14): k answers per prompt (batched,
// KV-cached sampling), scored by a composite scorer, then paired (pair_builder.h).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/generate/generate.h"
#include "core/synth/pair_builder.h"
#include "core/synth/scorers.h"
#include "core/types/run_parts.h"

namespace dpo {

struct CandidateSampling {
  int64_t k = 4;                 // answers per prompt
  GenerationConfig generation;   // temperature, top-p, top-k, seed, max_new_tokens; EOS stops are added
  int64_t batch_sequences = 32;  // sequences per generate call (whole prompts of k copies each)
  TokenizeOptions tokenize;      // the prompt is encoded as `dpo train` will encode it
};
inline constexpr int64_t kMaxCandidatesPerPrompt = 256;

// stage, done, total; returning false cancels (dpo::Cancelled).
using SynthProgress = std::function<bool(const std::string& stage, size_t done, size_t total)>;

// k answers for each prompt; each answer's length is its token count without the stop token, its
// score 0 until scored. Call b (of ⌈prompts / ⌊batch_sequences / k⌋⌉) samples with seed
// generation.seed + b, so the answers depend on the seed and batch_sequences only.
std::vector<PromptCandidates> sample_candidates(LlamaForCausalLM& model, const Tokenizer& tokenizer,
                                                const std::vector<std::string>& prompts,
                                                const CandidateSampling& sampling,
                                                const SynthProgress& progress = {});

// Scores every answer (all prompts in one call per scorer, so model scorers batch them): sets each
// answer's score to the weighted total and term_scores to the terms' values in the scorer's order.
void score_candidates(const CompositeScorer& scorer, std::vector<PromptCandidates>& prompts);

}  // namespace dpo
