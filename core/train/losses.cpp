#include "core/train/losses.h"

#include <torch/torch.h>

#include "core/runtime/error.h"

namespace dpo {

const std::vector<LossInfo>& loss_table() {
  static const std::vector<LossInfo> table = {
      {LossType::Sigmoid, "sigmoid", "sigmoid (DPO)",
       "-log sigmoid(beta * [(log pi(y_w) - log ref(y_w)) - (log pi(y_l) - log ref(y_l))])", true},
  };
  return table;
}

const LossInfo& loss_info(LossType type) {
  for (const auto& info : loss_table())
    if (info.type == type) return info;
  throw ConfigError("unknown loss type");
}

std::optional<LossType> parse_loss_type(std::string_view name) {
  for (const auto& info : loss_table())
    if (info.name == name) return info.type;
  return std::nullopt;
}

LossOutput preference_loss(const LossConfig& config, const PreferenceLogps& logps) {
  auto chosen_logratios = logps.policy_chosen - logps.reference_chosen;        // (B)
  auto rejected_logratios = logps.policy_rejected - logps.reference_rejected;  // (B)
  auto logits = config.beta * (chosen_logratios - rejected_logratios);         // (B)
  torch::Tensor losses;
  switch (config.type) {
    case LossType::Sigmoid: {
      const double eps = config.label_smoothing;
      losses = -(1.0 - eps) * torch::log_sigmoid(logits) - eps * torch::log_sigmoid(-logits);
      break;
    }
  }
  return {losses, (config.beta * chosen_logratios).detach(), (config.beta * rejected_logratios).detach()};
}

}  // namespace dpo
