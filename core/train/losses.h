#pragma once
#include <torch/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/types/loss_config.h"

namespace dpo {

// The loss table: DPO (seed 002 Eq. 7) and the variants TRL's DPOTrainer / CPOTrainer / ORPOTrainer /
// KTOTrainer implement, plus margin-adaptive and length-regularised DPO. Notation per pair:
// a = log π(y_w) − log π_ref(y_w), b = log π(y_l) − log π_ref(y_l) (response-masked sums), h = a − b.
// The table itself (LossInfo, loss_table, parse_loss_terms) is in core/types/loss_config.h.

// (B) each. Chosen = y_w, rejected = y_l. Fields after the first four are optional (undefined
// tensors) unless the configured loss needs them.
struct PreferenceLogps {
  torch::Tensor policy_chosen{};  // Σ_t log π(y_w,t | ...), response tokens only
  torch::Tensor policy_rejected{};
  torch::Tensor reference_chosen{};  // may be undefined for reference-free losses
  torch::Tensor reference_rejected{};
  torch::Tensor
      chosen_tokens{};  // |y_w| response token counts (ipo, simpo, orpo, cpo, rdpo-length, rpo_alpha)
  torch::Tensor rejected_tokens{};  // |y_l|
  torch::Tensor margin{};           // score_w − score_l for `margin`; undefined means 0
  // WPO (LossConfig::wpo_weighting): per-token mean of log π(y_t) − log Σ_v π(v)² over y_w, y_l
  torch::Tensor chosen_wpo{};
  torch::Tensor rejected_wpo{};
};

struct LossOutput {
  torch::Tensor losses{};  // (B), differentiable
  torch::Tensor
      chosen_rewards;  // (B) β·(log π(y_w) − log π_ref(y_w)), detached; β·log π(y_w) when reference-free
  torch::Tensor
      rejected_rewards;  // (B) β·(log π(y_l) − log π_ref(y_l)), detached; β·log π(y_l) when reference-free
  // (B) detached: (∂loss/∂log π(y_l) − ∂loss/∂log π(y_w)) / (2β), by autograd on the policy sums. For
  // sigmoid (ε = 0) this is exactly seed 002 §5's mis-ranking weight σ(r_l − r_w); for any loss of h
  // alone it is −(1/β)·∂loss/∂h. Signed: > 0 pushes y_w up against y_l, < 0 (ipo past its target
  // margin, say) pulls the pair back.
  torch::Tensor gradient_weight{};
};

// Weighted sum of the configured terms (+ rpo_alpha·NLL(y_w)), per pair. Throws ConfigError when a
// needed input (reference, lengths) is missing, for kto (unpaired), or for out-of-range settings.
LossOutput preference_loss(const LossConfig& config, const PreferenceLogps& logps);

// KTO (Ethayarajh et al. 2024, TRL KTOTrainer.kto_loss), unpaired:
//   desirable:   λ_D·(1 − σ(β(a − z₀))),   undesirable: λ_U·(1 − σ(β(z₀ − a)))
// a = log π(y|x) − log π_ref(y|x) per example and z₀ = max(0, mean(kl_policy − kl_reference)), detached,
// estimated on mismatched prompt/completion pairs.
struct KtoConfig {
  double beta = 0.1;
  double desirable_weight = 1.0;    // λ_D
  double undesirable_weight = 1.0;  // λ_U
};
struct KtoOutput {
  torch::Tensor losses{};   // (N), differentiable, in the input order
  torch::Tensor rewards{};  // (N) β·a, detached
  torch::Tensor kl{};       // () z₀, detached
};
// policy_logps, reference_logps: (N); desirable: (N) bool; kl_policy_logps, kl_reference_logps: (M).
KtoOutput kto_loss(const KtoConfig& config, const torch::Tensor& policy_logps,
                   const torch::Tensor& reference_logps, const torch::Tensor& desirable,
                   const torch::Tensor& kl_policy_logps, const torch::Tensor& kl_reference_logps);

}  // namespace dpo
