#pragma once
// A tiny random Llama with decisive greedy picks, for the generation tests.
#include <torch/torch.h>

#include "core/model/llama.h"

namespace dpo::testing {

// Vocabulary 60, seed 11. Weights 15× the 0.02 initialisation, so greedy picks are decisive, not
// near-ties.
inline LlamaForCausalLM decisive_random_model() {
  torch::manual_seed(11);
  auto config = LlamaConfig::tiny(60);
  config.tie_word_embeddings = false;
  LlamaForCausalLM model(config);
  initialise_weights(model);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters())
    if (p.dim() == 2) p.mul_(15);
  return model;
}

}  // namespace dpo::testing
