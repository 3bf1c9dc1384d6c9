#include "core/train/pair_logps.h"

#include <torch/torch.h>

#include <optional>

#include "core/model/lora.h"
#include "core/runtime/error.h"

namespace dpo {

ResponseScores model_response_logprobs(LlamaForCausalLM& model, const torch::Tensor& input_ids,
                                       const torch::Tensor& attention_mask,
                                       const torch::Tensor& response_mask, int64_t logit_chunk_rows,
                                       const ResponseScoreOptions& options) {
  const auto device = model->head_weight().device();
  auto ids = input_ids.to(device);
  auto hidden = model->model->forward(ids, attention_mask.to(device));  // (N, T, C)
  return response_logprobs_from_hidden(hidden, model->head_weight(), ids, response_mask, logit_chunk_rows,
                                       options);
}

torch::Tensor ld_token_weights(const torch::Tensor& response_mask, int64_t pairs, double alpha) {
  auto mask = response_mask.to(torch::kCPU, torch::kFloat32);  // (2B, T), chosen rows then rejected
  auto rank = mask.cumsum(1);                                  // (2B, T): 1, 2, … along each response
  auto lengths = mask.sum(1);                                  // (2B)
  auto shared = torch::minimum(lengths.narrow(0, 0, pairs), lengths.narrow(0, pairs, pairs)).repeat({2});
  auto front = rank <= shared.unsqueeze(1);                                                  // (2B, T)
  return mask * torch::where(front, torch::ones_like(mask), torch::full_like(mask, alpha));  // (2B, T)
}

BatchLogps batch_preference_logps(LlamaForCausalLM& policy, const ReferenceSource& reference,
                                  const PreferenceBatch& batch, const LossConfig& loss,
                                  int64_t logit_chunk_rows) {
  const int64_t B = batch.pairs;
  ResponseScoreOptions options;
  options.wpo = loss.wpo_weighting;
  if (loss.ld_alpha != 1.0) options.token_weights = ld_token_weights(batch.response_mask, B, loss.ld_alpha);
  auto pi = model_response_logprobs(policy, batch.input_ids, batch.attention_mask, batch.response_mask,
                                    logit_chunk_rows, options);  // (2B)
  BatchLogps out;
  out.logps = PreferenceLogps{.policy_chosen = pi.logps.sum.narrow(0, 0, B),
                              .policy_rejected = pi.logps.sum.narrow(0, B, B),
                              .chosen_tokens = pi.logps.tokens.narrow(0, 0, B),
                              .rejected_tokens = pi.logps.tokens.narrow(0, B, B)};
  if (options.wpo) {
    out.logps.chosen_wpo = pi.wpo_mean.narrow(0, 0, B);
    out.logps.rejected_wpo = pi.wpo_mean.narrow(0, B, B);
  }
  out.logits_chosen = pi.mean_logits.narrow(0, 0, B);
  out.logits_rejected = pi.mean_logits.narrow(0, B, B);
  if (needs_reference(loss)) {
    const auto device = pi.logps.sum.device();
    if (reference.chosen.defined()) {
      out.logps.reference_chosen = reference.chosen.to(device, pi.logps.sum.scalar_type());
      out.logps.reference_rejected = reference.rejected.to(device, pi.logps.sum.scalar_type());
    } else {
      if (reference.model == nullptr)
        throw ConfigError("loss needs a reference model or precomputed reference log-probs");
      torch::NoGradGuard no_grad;
      // The policy itself as reference means a LoRA policy with its adapters switched off.
      std::optional<AdaptersDisabled> base;
      if (reference.model->ptr() == policy.ptr()) base.emplace(policy);
      auto ref = model_response_logprobs(*reference.model, batch.input_ids, batch.attention_mask,
                                         batch.response_mask, logit_chunk_rows)
                     .logps.sum;  // (2B)
      out.logps.reference_chosen = ref.narrow(0, 0, B);
      out.logps.reference_rejected = ref.narrow(0, B, B);
      out.ran_reference = true;
    }
  }
  return out;
}

}  // namespace dpo
