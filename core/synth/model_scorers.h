#pragma once
// The scorers that run a model (issue 14): a model's confidence in an answer, and the implicit
// reward of a trained DPO model against its reference, an auxiliary reward model for free.
#include <memory>

#include "core/model/llama.h"
#include "core/synth/scorers.h"
#include "core/tokenizer/tokenizer.h"
#include "core/types/run_parts.h"

namespace dpo {

struct ModelScorerOptions {
  TokenizeOptions tokenize;  // how (prompt, answer) is encoded: as `dpo train` will encode the pair
  int64_t batch_size = 16;   // answers per forward pass
};

// logprob: mean log π(y_t | x, y_<t) over the answer's tokens (its EOS included), in nats per token;
// 0 for an answer of no tokens.
std::unique_ptr<Scorer> make_logprob_scorer(LlamaForCausalLM model, const Tokenizer& tokenizer,
                                            const ModelScorerOptions& options = {});

// implicit: β·(Σ_t log π(y_t | x, y_<t) − Σ_t log π_ref(y_t | x, y_<t)), DPO's implicit reward of the
// answer (summed over its tokens, as the loss sums them).
std::unique_ptr<Scorer> make_implicit_scorer(LlamaForCausalLM policy, LlamaForCausalLM reference,
                                             const Tokenizer& tokenizer, double beta,
                                             const ModelScorerOptions& options = {});

}  // namespace dpo
