#include "core/train/pair_logps.h"

#include <torch/torch.h>

#include <optional>

#include "core/model/lora.h"
#include "core/runtime/error.h"
#include "core/train/logprobs.h"

namespace dpo {

BatchLogps batch_preference_logps(LlamaForCausalLM& policy, const ReferenceSource& reference,
                                  const PreferenceBatch& batch, const LossConfig& loss) {
  const auto device = policy->parameters().front().device();
  auto ids = batch.input_ids.to(device), attention = batch.attention_mask.to(device),
       response = batch.response_mask.to(device);
  const int64_t B = batch.pairs;
  auto logits = policy(ids, attention);  // (2B, T, V)
  auto pi = response_logprobs(logits, ids, response);  // (2B)
  BatchLogps out;
  out.logps = PreferenceLogps{.policy_chosen = pi.sum.narrow(0, 0, B),
                              .policy_rejected = pi.sum.narrow(0, B, B),
                              .chosen_tokens = pi.tokens.narrow(0, 0, B),
                              .rejected_tokens = pi.tokens.narrow(0, B, B)};
  {
    // logits[:, t] predicts token t+1, so response token t is scored at position t−1.
    torch::NoGradGuard no_grad;
    auto per_position = logits.detach().mean(-1).narrow(1, 0, logits.size(1) - 1);  // (2B, T−1)
    auto mask = response.narrow(1, 1, response.size(1) - 1).to(per_position.dtype());
    auto means = (per_position * mask).sum(1) / mask.sum(1).clamp_min(1.0);  // (2B)
    out.logits_chosen = means.narrow(0, 0, B);
    out.logits_rejected = means.narrow(0, B, B);
  }
  if (needs_reference(loss)) {
    if (reference.chosen.defined()) {
      out.logps.reference_chosen = reference.chosen.to(device, pi.sum.scalar_type());
      out.logps.reference_rejected = reference.rejected.to(device, pi.sum.scalar_type());
    } else {
      if (reference.model == nullptr) throw ConfigError("loss needs a reference model or precomputed reference log-probs");
      torch::NoGradGuard no_grad;
      // The policy itself as reference means a LoRA policy with its adapters switched off.
      std::optional<AdaptersDisabled> base;
      if (reference.model->ptr() == policy.ptr()) base.emplace(policy);
      auto ref = response_logprobs((*reference.model)(ids, attention), ids, response).sum;  // (2B)
      out.logps.reference_chosen = ref.narrow(0, 0, B);
      out.logps.reference_rejected = ref.narrow(0, B, B);
      out.ran_reference = true;
    }
  }
  return out;
}

}  // namespace dpo
