#include "core/train/reference.h"

#include <torch/torch.h>

namespace dpo {

LlamaForCausalLM make_frozen_reference(LlamaForCausalLM& policy) {
  LlamaForCausalLM reference(policy->config());
  torch::NoGradGuard no_grad;
  auto source = policy->named_parameters();
  for (auto& p : reference->named_parameters()) {
    p.value().copy_(source[p.key()]);
    p.value().set_requires_grad(false);
  }
  reference->to(source.begin()->value().device());
  reference->eval();
  return reference;
}

}  // namespace dpo
