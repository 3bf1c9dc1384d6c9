// The loss table and its look-ups (core/types/loss_config.h), apart from the tensor code of
// losses.cpp so that torch-free code (lesson files, the fuzz targets) can link them.
#include <optional>
#include <string_view>
#include <vector>

#include "core/runtime/error.h"
#include "core/types/loss_config.h"

namespace dpo {

const std::vector<LossInfo>& loss_table() {
  // {type, name, label, formula, needs_reference, needs_lengths, paired, default_beta}
  static const std::vector<LossInfo> table = {
      {LossType::Sigmoid, "sigmoid", "sigmoid (DPO)",
       "-log sigmoid(beta * [(log pi(y_w) - log ref(y_w)) - (log pi(y_l) - log ref(y_l))])", true, false,
       true, 0.1},
      {LossType::Robust, "robust", "robust (rDPO)",
       "[-(1-eps) log sigmoid(beta*h) + eps log sigmoid(-beta*h)] / (1 - 2 eps)", true, false, true, 0.1},
      {LossType::Ipo, "ipo", "IPO", "(h_avg - 1/(2 beta))^2, h_avg from per-token average log-ratios", true,
       true, true, 0.1},
      {LossType::Hinge, "hinge", "hinge (SLiC)", "max(0, 1 - beta*h)", true, false, true, 0.1},
      {LossType::Margin, "margin", "margin-adaptive DPO", "-log sigmoid(beta*h - gamma*(score_w - score_l))",
       true, false, true, 0.1},
      {LossType::RdpoLength, "rdpo-length", "length-regularised DPO (R-DPO)",
       "-log sigmoid(beta*h + alpha*(|y_w| - |y_l|))", true, true, true, 0.1},
      {LossType::Simpo, "simpo", "SimPO (reference-free)",
       "-log sigmoid(beta*(avg log pi(y_w) - avg log pi(y_l)) - gamma)", false, true, true, 2.0},
      {LossType::Orpo, "orpo", "ORPO (reference-free)",
       "NLL(y_w) - lambda*log sigmoid(odds_w - odds_l), odds = avg - log(1 - exp(avg))", false, true, true,
       0.1},
      {LossType::Cpo, "cpo", "CPO (reference-free)",
       "-log sigmoid(beta*(log pi(y_w) - log pi(y_l))) + NLL(y_w)", false, true, true, 0.1},
      {LossType::Kto, "kto", "KTO (unpaired)",
       "desirable 1 - sigmoid(beta*(a - z0)), undesirable 1 - sigmoid(beta*(z0 - a)), z0 = KL estimate", true,
       false, false, 0.1},
      {LossType::BcoPair, "bco_pair", "BCO (paired)",
       "-log sigmoid(beta*a - delta) - log sigmoid(-(beta*b - delta)), delta = running reward mean", true,
       false, true, 0.1},
      {LossType::NcaPair, "nca_pair", "NCA (paired)",
       "-log sigmoid(beta*a) - 0.5 log sigmoid(-beta*a) - 0.5 log sigmoid(-beta*b)", true, false, true, 0.1},
      {LossType::ExoPair, "exo_pair", "EXO (paired)",
       "s(bh)(log s(bh) - log(1-eps)) + s(-bh)(log s(-bh) - log eps), s = sigmoid, eps default 1e-3", true,
       false, true, 0.1},
      {LossType::SppoHard, "sppo_hard", "SPPO (hard labels)", "(a - 1/(2 beta))^2 + (b + 1/(2 beta))^2", true,
       false, true, 0.1},
      {LossType::ApoZero, "apo_zero", "APO-zero", "1 - sigmoid(beta*a) + sigmoid(beta*b)", true, false, true,
       0.1},
      {LossType::ApoDown, "apo_down", "APO-down", "sigmoid(beta*a) + 1 - sigmoid(beta*(a - b))", true, false,
       true, 0.1},
      {LossType::Discopop, "discopop", "DiscoPOP",
       "x = beta*h, m = sigmoid(x/tau): -log sigmoid(x)*(1 - m) + exp(-x)*m", true, false, true, 0.1},
      {LossType::SigmoidNorm, "sigmoid_norm", "length-normalised DPO",
       "-log sigmoid(beta * (a/|y_w| - b/|y_l|)), per-token average log-ratios", true, true, true, 5.0},
      {LossType::Aot, "aot", "AOT (paired)",
       "-log sigmoid(beta * (sort(log pi(y_w) - log pi(y_l)) - sort(log ref(y_w) - log ref(y_l))))", true,
       false, true, 0.1},
      {LossType::AotUnpaired, "aot_unpaired", "AOT (unpaired)", "-log sigmoid(beta * (sort(a) - sort(b)))",
       true, false, true, 0.1},
      {LossType::FdpoForwardKl, "fdpo_forward_kl", "f-DPO, forward KL",
       "-log sigmoid(beta * (exp(-b) - exp(-a))), f'(u) = -1/u", true, false, true, 0.1},
      {LossType::FdpoJs, "fdpo_js", "f-DPO, Jensen-Shannon",
       "-log sigmoid(beta * (h - softplus(a) + softplus(b))), f'(u) = log(2u/(1+u))", true, false, true, 0.1},
      {LossType::FdpoAlpha, "fdpo_alpha", "f-DPO, alpha-divergence",
       "-log sigmoid(beta * (exp(-alpha*b) - exp(-alpha*a)) / alpha), f'(u) = (1 - u^-alpha)/alpha", true,
       false, true, 0.1},
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

}  // namespace dpo
