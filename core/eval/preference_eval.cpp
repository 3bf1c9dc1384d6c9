#include "core/eval/preference_eval.h"

#include <torch/torch.h>

#include <span>

#include "core/data/collator.h"
#include "core/train/pair_logps.h"

namespace dpo {

PreferenceEval evaluate_preferences(LlamaForCausalLM& policy, LlamaForCausalLM& reference,
                                    const std::vector<TokenizedPair>& pairs, int64_t pad_id,
                                    const LossConfig& loss, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  const bool was_training = policy->is_training();
  policy->eval();
  PreferenceEval result;
  double loss_sum = 0;
  for (size_t start = 0; start < pairs.size(); start += static_cast<size_t>(batch_size)) {
    const size_t n = std::min(pairs.size() - start, static_cast<size_t>(batch_size));
    auto batch = collate_pairs(std::span(pairs).subspan(start, n), pad_id);
    const auto B = batch.pairs;
    auto logps = batch_preference_logps(policy, reference, batch, loss);
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
