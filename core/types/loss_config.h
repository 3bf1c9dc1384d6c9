#pragma once
// Torch-free value types of the core: included by the core, the app and the Qt widgets alike.
#include <vector>

namespace dpo {

// The loss table (core/train/losses.h): DPO (seed 002 Eq. 7) and the variants TRL's trainers implement.
enum class LossType {
  Sigmoid,
  Robust,
  Ipo,
  Hinge,
  Margin,
  RdpoLength,
  Simpo,
  Orpo,
  Cpo,
  Kto,
  BcoPair,
  NcaPair,
  ExoPair,
  SppoHard,
  ApoZero,
  ApoDown,
  Discopop,
};

struct LossTerm {
  LossType type = LossType::Sigmoid;
  double weight = 1.0;
};

struct LossConfig {
  LossType type = LossType::Sigmoid;
  double beta = 0.1;
  double label_smoothing = 0.0;  // ε: cDPO (sigmoid), rDPO (robust), exo_pair (0 means 1e-3), simpo, cpo
  // Non-empty: the loss is Σ weight·loss_term and `type` is ignored (e.g. {sigmoid, 1}, {sppo_hard, 0.5}).
  std::vector<LossTerm> terms{};
  double simpo_gamma = 0.5;    // simpo target margin γ, the full margin (TRL's simpo_gamma)
  double margin_gamma = 1.0;   // margin: m = γ·(score_w − score_l)
  double length_alpha = 0.01;  // rdpo-length α, per token of length difference
  double orpo_lambda = 0.1;    // orpo λ (TRL's ORPOConfig.beta)
  double rpo_alpha = 0.0;      // > 0 adds α·NLL(y_w) (per-token mean) to the whole loss (TRL rpo_alpha)
  double discopop_tau = 0.05;  // τ of DiscoPOP's log-ratio modulation
  double bco_delta = 0.0;      // δ of bco_pair: running mean of the rewards, kept by the caller
  double kto_desirable_weight = 1.0;    // λ_D of kto
  double kto_undesirable_weight = 1.0;  // λ_U of kto
};

}  // namespace dpo
