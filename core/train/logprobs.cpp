#include "core/train/logprobs.h"

#include <torch/torch.h>

namespace dpo {

SequenceLogps response_logprobs(const torch::Tensor& logits, const torch::Tensor& input_ids,
                                const torch::Tensor& response_mask) {
  const auto T = logits.size(1);
  auto shifted_logits = logits.narrow(1, 0, T - 1).to(torch::kFloat32);  // (N, T-1, V)
  auto labels = input_ids.narrow(1, 1, T - 1);                            // (N, T-1)
  auto mask = response_mask.narrow(1, 1, T - 1).to(torch::kFloat32);      // (N, T-1)
  // log_softmax gathered at the label = logit[label] - logsumexp(logits)
  auto token_logps = shifted_logits.gather(-1, labels.unsqueeze(-1)).squeeze(-1) -
                     shifted_logits.logsumexp(-1);  // (N, T-1)
  return {(token_logps * mask).sum(-1), mask.sum(-1)};
}

}  // namespace dpo
