#include "core/eval/preference_eval.h"

#include <torch/torch.h>

#include <span>

#include "core/data/collator.h"
#include "core/train/logprobs.h"

namespace dpo {

PreferenceEval evaluate_preferences(LlamaForCausalLM& policy, LlamaForCausalLM& reference,
                                    const std::vector<TokenizedPair>& pairs, int64_t pad_id,
                                    const LossConfig& loss, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  const bool was_training = policy->is_training();
  policy->eval();
  const auto device = policy->parameters().front().device();
  PreferenceEval result;
  double loss_sum = 0;
  for (size_t start = 0; start < pairs.size(); start += static_cast<size_t>(batch_size)) {
    const size_t n = std::min(pairs.size() - start, static_cast<size_t>(batch_size));
    auto batch = collate_pairs(std::span(pairs).subspan(start, n), pad_id);
    auto ids = batch.input_ids.to(device), attention = batch.attention_mask.to(device),
         response = batch.response_mask.to(device);
    const auto B = batch.pairs;
    auto pi = response_logprobs(policy(ids, attention), ids, response);  // (2B)
    PreferenceLogps logps{.policy_chosen = pi.sum.narrow(0, 0, B),
                          .policy_rejected = pi.sum.narrow(0, B, B),
                          .chosen_tokens = pi.tokens.narrow(0, 0, B),
                          .rejected_tokens = pi.tokens.narrow(0, B, B)};
    if (needs_reference(loss)) {
      auto ref = response_logprobs(reference(ids, attention), ids, response).sum;  // (2B)
      logps.reference_chosen = ref.narrow(0, 0, B);
      logps.reference_rejected = ref.narrow(0, B, B);
    }
    auto out = preference_loss(loss, logps);
    auto margins = (out.chosen_rewards - out.rejected_rewards).to(torch::kCPU).to(torch::kFloat64);
    for (int64_t i = 0; i < B; ++i) result.margins.push_back(margins[i].item<double>());
    loss_sum += out.losses.sum().item<double>();
  }
  for (double m : result.margins) {
    result.accuracy += m > 0 ? 1.0 : 0.0;
    result.mean_margin += m;
  }
  const double n = static_cast<double>(result.margins.size());
  result.accuracy /= n;
  result.mean_margin /= n;
  result.mean_loss = loss_sum / n;
  if (was_training) policy->train();
  return result;
}

}  // namespace dpo
