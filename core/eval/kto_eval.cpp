#include "core/eval/kto_eval.h"

#include <torch/torch.h>

#include <numeric>

#include "core/data/collator.h"
#include "core/runtime/error.h"
#include "core/train/pair_logps.h"
#include "core/train/step_sums.h"

namespace dpo {

PreferenceEval evaluate_kto(LlamaForCausalLM& policy, LlamaForCausalLM* reference,
                            const std::vector<TokenizedPair>& rows, const std::vector<bool>& desirable,
                            int64_t pad_id, const LossConfig& loss, int64_t batch_size,
                            const ReferenceLogps* cached) {
  if (desirable.size() != rows.size()) throw ConfigError("KTO evaluation: one label per row expected");
  torch::NoGradGuard no_grad;
  const bool was_training = policy->is_training();
  policy->eval();
  StepSums sums;
  const auto device = policy->parameters().front().device();
  const auto step = static_cast<size_t>(std::max<int64_t>(1, batch_size));
  for (size_t start = 0; start < rows.size(); start += step) {
    std::vector<size_t> indices(std::min(step, rows.size() - start));
    std::iota(indices.begin(), indices.end(), start);
    std::vector<TokenizedPair> batch;
    for (auto i : indices) batch.push_back(rows[i]);
    auto out = batch_preference_logps(policy, reference_for_rows(reference, cached, indices),
                                      collate_pairs(batch, pad_id), loss);
    auto labels = labels_of(desirable, indices).to(device);
    auto ko = kto_loss(kto_config(loss), out.logps.policy_chosen, out.logps.reference_chosen, labels,
                       out.logps.policy_rejected, out.logps.reference_rejected);
    sums.add_kto(ko, labels, out);
  }
  sums.settle();
  if (was_training) policy->train();
  const double n = static_cast<double>(rows.size()), nc = std::max(1.0, sums.desirable),
               nr = std::max(1.0, sums.undesirable);
  PreferenceEval e;
  e.mean_loss = sums.loss / n;
  sums.side_means(nc, nr, e);
  e.mean_margin = e.rewards_chosen - e.rewards_rejected;
  e.accuracy = sums.accurate / n;
  return e;
}

}  // namespace dpo
