#pragma once
#include <torch/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dpo {

// The loss table. Only `sigmoid` (DPO, seed 002 Eq. 7, with cDPO label smoothing) exists yet;
// the other variants of the roadmap join this enum and loss_table().
enum class LossType { Sigmoid };

struct LossInfo {
  LossType type;
  std::string_view name;     // CLI / config spelling
  std::string_view label;    // shown in the studio
  std::string_view formula;  // in words and symbols
  bool needs_reference;
};

const std::vector<LossInfo>& loss_table();
const LossInfo& loss_info(LossType type);
std::optional<LossType> parse_loss_type(std::string_view name);

struct LossConfig {
  LossType type = LossType::Sigmoid;
  double beta = 0.1;
  double label_smoothing = 0.0;  // ε of conservative DPO
};

// Response-masked sums, (B) each. Chosen = y_w, rejected = y_l.
struct PreferenceLogps {
  torch::Tensor policy_chosen;
  torch::Tensor policy_rejected;
  torch::Tensor reference_chosen;
  torch::Tensor reference_rejected;
};

struct LossOutput {
  torch::Tensor losses;            // (B), differentiable
  torch::Tensor chosen_rewards;    // (B) β·(log π(y_w) − log π_ref(y_w)), detached
  torch::Tensor rejected_rewards;  // (B) β·(log π(y_l) − log π_ref(y_l)), detached
};

// sigmoid: −(1−ε)·log σ(β·h) − ε·log σ(−β·h), h = (log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l)).
LossOutput preference_loss(const LossConfig& config, const PreferenceLogps& logps);

}  // namespace dpo
