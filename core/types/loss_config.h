#pragma once
// Torch-free value types of the core: included by the core, the app and the Qt widgets alike.
#include <optional>
#include <string_view>
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
  SigmoidNorm,
  Aot,
  AotUnpaired,
  FdpoForwardKl,
  FdpoJs,
  FdpoAlpha,
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
  double fdpo_alpha = 0.5;  // α of fdpo_alpha: f'(u) = (1 − u^−α)/α (→ reverse KL as α → 0)
  // WPO (Zhou et al. 2024, TRL use_weighting): each pair's loss times min(1, exp(w̄_w + w̄_l)), w̄ the
  // per-token mean of log π(y_t) − log Σ_v π(v)², detached. Needs PreferenceLogps::chosen_wpo.
  bool wpo_weighting = false;
  // LD-DPO (Liu et al. 2024, TRL ld_alpha): the policy's log-prob of a response counts its first
  // min(|y_w|, |y_l|) tokens fully and the rest times ld_alpha. 1 is plain DPO.
  double ld_alpha = 1.0;
};

// The table and the functions over it are defined in core/train/loss_table.cpp and losses.cpp
// (dpo_core); they read no tensors, so the app may call them without torch headers.
struct LossInfo {
  LossType type;
  std::string_view name;     // CLI / config spelling
  std::string_view label;    // shown in the studio
  std::string_view formula;  // in words and symbols
  bool needs_reference;      // false: π_ref is never read (reference-free losses)
  bool needs_lengths;        // reads response token counts (per-token averages, length penalty)
  bool paired;               // false (kto): not computable by preference_loss(), see kto_loss()
  double default_beta;       // the paper's / TRL's recommended β
};

const std::vector<LossInfo>& loss_table();
const LossInfo& loss_info(LossType type);
std::optional<LossType> parse_loss_type(std::string_view name);
// "sigmoid" ({sigmoid, 1}) or a weighted combination "sigmoid:1,sppo_hard:0.5". Throws ConfigError
// naming the bad part; `what` names the option in that message ("unknown --type 'x' (known: ...)").
std::vector<LossTerm> parse_loss_terms(std::string_view spec, std::string_view what = "loss");

// The terms `config` stands for: `terms`, or {type, 1} when `terms` is empty.
std::vector<LossTerm> loss_terms(const LossConfig& config);
// True when any term reads π_ref; callers skip the reference forward pass otherwise.
bool needs_reference(const LossConfig& config);
// True when any term, or rpo_alpha, reads response token counts.
bool needs_lengths(const LossConfig& config);

}  // namespace dpo
