#include "core/train/pair_logps.h"

#include <torch/torch.h>

#include "core/train/logprobs.h"

namespace dpo {

PreferenceLogps batch_preference_logps(LlamaForCausalLM& policy, LlamaForCausalLM& reference,
                                       const PreferenceBatch& batch, const LossConfig& loss) {
  const auto device = policy->parameters().front().device();
  auto ids = batch.input_ids.to(device), attention = batch.attention_mask.to(device),
       response = batch.response_mask.to(device);
  const int64_t B = batch.pairs;
  auto pi = response_logprobs(policy(ids, attention), ids, response);  // (2B)
  PreferenceLogps logps{.policy_chosen = pi.sum.narrow(0, 0, B),
                        .policy_rejected = pi.sum.narrow(0, B, B),
                        .chosen_tokens = pi.tokens.narrow(0, 0, B),
                        .rejected_tokens = pi.tokens.narrow(0, B, B)};
  if (needs_reference(loss)) {
    torch::NoGradGuard no_grad;
    auto ref = response_logprobs(reference(ids, attention), ids, response).sum;  // (2B)
    logps.reference_chosen = ref.narrow(0, 0, B);
    logps.reference_rejected = ref.narrow(0, B, B);
  }
  return logps;
}

}  // namespace dpo
