#include "core/train/losses.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "core/io/weighted_list.h"
#include "core/runtime/error.h"

namespace dpo {

namespace {
namespace F = torch::nn::functional;
using torch::Tensor;

// Every input the terms read, (B) each; a, b undefined when no term needs the reference.
struct Terms {
  Tensor policy_chosen{}, policy_rejected{};        // log π(y_w), log π(y_l)
  Tensor a{}, b{};                                  // log-ratios of y_w, y_l
  Tensor reference_chosen{}, reference_rejected{};  // log π_ref(y_w), log π_ref(y_l) with a, b
  Tensor chosen_tokens{}, rejected_tokens{};        // |y_w|, |y_l| as floats; undefined when not needed
  Tensor margin{};                                  // score_w − score_l
  Tensor wpo_weight{};  // min(1, exp(w̄_w + w̄_l)), detached; undefined: no weighting
};

// −(1−ε)·log σ(z) − ε·log σ(−z): binary cross-entropy with smoothed labels.
Tensor smoothed_logistic(const Tensor& z, double eps) {
  return -(1.0 - eps) * torch::log_sigmoid(z) - eps * torch::log_sigmoid(-z);
}

// log(1 − exp(x)) for x < 0 without cancellation (Mächler 2012): log(−expm1(x)) near 0,
// log1p(−exp(x)) below −ln 2. Each branch gets a clamped input so the unused one never yields
// inf·0 = NaN in the backward of where().
Tensor log1mexp(const Tensor& x) {
  const double ln2 = std::log(2.0);
  auto near_zero = torch::log(-torch::expm1(x.clamp_min(-ln2)));
  auto far = torch::log1p(-torch::exp(x.clamp_max(-ln2)));
  return torch::where(x > -ln2, near_zero, far);
}

// e^x with x capped at 50 (TRL's cap_exp): a policy far below its reference (log-ratio −1000) would
// otherwise make inf, and inf·0 = NaN in the backward pass.
Tensor capped_exp(const Tensor& x) { return torch::exp(x.clamp_max(50.0)); }

// NLL(y_w) as a per-token mean: −log π(y_w) / |y_w|.
Tensor chosen_nll(const Terms& t) { return -t.policy_chosen / t.chosen_tokens; }

Tensor term_losses(LossType type, const LossConfig& c, const Terms& t) {
  const double beta = c.beta, eps = c.label_smoothing;
  switch (type) {
    case LossType::Sigmoid:
      // DPO / cDPO: −(1−ε) log σ(βh) − ε log σ(−βh)
      return smoothed_logistic(beta * (t.a - t.b), eps);
    case LossType::Robust: {
      // rDPO (Chowdhury et al. 2024): [−(1−ε) log σ(βh) + ε log σ(−βh)] / (1 − 2ε)
      auto z = beta * (t.a - t.b);
      return (-(1.0 - eps) * torch::log_sigmoid(z) + eps * torch::log_sigmoid(-z)) / (1.0 - 2.0 * eps);
    }
    case LossType::Ipo: {
      // IPO (Azar et al. 2023, Eq. 17): (h̄ − 1/(2β))², h̄ from per-token average log-ratios as TRL
      // averages every log-prob when loss_type == "ipo".
      auto h_avg = t.a / t.chosen_tokens - t.b / t.rejected_tokens;
      return (h_avg - 1.0 / (2.0 * beta)).square();
    }
    case LossType::Hinge:
      // SLiC (Zhao et al. 2023): max(0, 1 − βh)
      return torch::relu(1.0 - beta * (t.a - t.b));
    case LossType::Margin: {
      // margin-adaptive DPO: −log σ(βh − m), m = γ·(score_w − score_l)
      auto z = beta * (t.a - t.b);
      if (t.margin.defined()) z = z - c.margin_gamma * t.margin;
      return -torch::log_sigmoid(z);
    }
    case LossType::RdpoLength:
      // R-DPO (Park et al. 2024): −log σ(βh + α(|y_w| − |y_l|)). The RL objective r − α|y| gives
      // r = β log(π/π_ref) + α|y| + const, so in the Bradley–Terry margin length buys the longer
      // answer credit it no longer has to earn through its log-ratio.
      return -torch::log_sigmoid(beta * (t.a - t.b) + c.length_alpha * (t.chosen_tokens - t.rejected_tokens));
    case LossType::Simpo: {
      // SimPO (Meng et al. 2024): −log σ(β(avg_w − avg_l) − γ), γ the full margin. TRL's CPOTrainer
      // writes β·(avg_w − avg_l − simpo_gamma/β), the same number; the SimPO repository's
      // gamma_beta_ratio is γ/β. ε smooths the labels as in TRL.
      auto avg_w = t.policy_chosen / t.chosen_tokens, avg_l = t.policy_rejected / t.rejected_tokens;
      return smoothed_logistic(beta * (avg_w - avg_l) - c.simpo_gamma, eps);
    }
    case LossType::Orpo: {
      // ORPO (Hong et al. 2024, TRL ORPOTrainer): NLL(y_w) − λ·log σ(odds_w − odds_l),
      // odds = avg − log(1 − exp(avg)) on per-token average log-probs. avg is kept ≤ −1e-6 because a
      // response of probability 1 has infinite log-odds.
      auto avg_w = (t.policy_chosen / t.chosen_tokens).clamp_max(-1e-6);
      auto avg_l = (t.policy_rejected / t.rejected_tokens).clamp_max(-1e-6);
      auto log_odds = (avg_w - log1mexp(avg_w)) - (avg_l - log1mexp(avg_l));
      return chosen_nll(t) - c.orpo_lambda * torch::log_sigmoid(log_odds);
    }
    case LossType::Cpo:
      // CPO (Xu et al. 2024, TRL CPOTrainer, cpo_alpha = 1): −log σ(β(log π(y_w) − log π(y_l))) + NLL(y_w)
      return smoothed_logistic(beta * (t.policy_chosen - t.policy_rejected), eps) + chosen_nll(t);
    case LossType::Kto:
      throw ConfigError("loss 'kto' is unpaired: it is computed by kto_loss(), not preference_loss()");
    case LossType::BcoPair:
      // BCO (Jung et al. 2024), TRL bco_pair: −log σ(βa − δ) − log σ(−(βb − δ)), δ the running reward mean
      return -torch::log_sigmoid(beta * t.a - c.bco_delta) - torch::log_sigmoid(-(beta * t.b - c.bco_delta));
    case LossType::NcaPair: {
      // NCA (Chen et al. 2024), TRL nca_pair: −log σ(r_w) − ½ log σ(−r_w) − ½ log σ(−r_l), r = β·log-ratio
      auto rw = beta * t.a, rl = beta * t.b;
      return -torch::log_sigmoid(rw) - 0.5 * torch::log_sigmoid(-rw) - 0.5 * torch::log_sigmoid(-rl);
    }
    case LossType::ExoPair: {
      // EXO (Ji et al. 2024, Eq. 16), TRL exo_pair (ε = 0 means 1e-3):
      //   σ(βh)(log σ(βh) − log(1−ε)) + σ(−βh)(log σ(−βh) − log ε)
      const double e = eps == 0.0 ? 1e-3 : eps;
      auto z = beta * (t.a - t.b);
      return torch::sigmoid(z) * (torch::log_sigmoid(z) - std::log(1.0 - e)) +
             torch::sigmoid(-z) * (torch::log_sigmoid(-z) - std::log(e));
    }
    case LossType::SppoHard:
      // SPPO, hard labels (Wu et al. 2024), TRL sppo_hard: (a − 1/(2β))² + (b + 1/(2β))²
      return (t.a - 0.5 / beta).square() + (t.b + 0.5 / beta).square();
    case LossType::ApoZero:
      // APO-zero (D'Oosterlinck et al. 2024, Eq. 7): 1 − σ(βa) + σ(βb)
      return 1.0 - torch::sigmoid(beta * t.a) + torch::sigmoid(beta * t.b);
    case LossType::ApoDown:
      // APO-down (Eq. 8): σ(βa) + 1 − σ(β(a − b))
      return torch::sigmoid(beta * t.a) + 1.0 - torch::sigmoid(beta * (t.a - t.b));
    case LossType::Discopop: {
      // DiscoPOP / log-ratio modulated loss (Lu et al. 2024, Eq. 5), x = βh, μ = σ(x/τ):
      //   −log σ(x)·(1 − μ) + exp(−x)·μ
      // written as −log σ(x)·σ(−x/τ) + exp(−x + log σ(x/τ)) so exp(−x) never overflows to inf·0.
      auto x = beta * (t.a - t.b);
      const double tau = c.discopop_tau;
      return -torch::log_sigmoid(x) * torch::sigmoid(-x / tau) + torch::exp(-x + torch::log_sigmoid(x / tau));
    }
    case LossType::SigmoidNorm:
      // Length-normalised DPO (Tulu 3's dpo-norm, TRL sigmoid_norm): −log σ(β(a/|y_w| − b/|y_l|)), ε smooths
      return smoothed_logistic(beta * (t.a / t.chosen_tokens - t.b / t.rejected_tokens), eps);
    case LossType::Aot: {
      // AOT (Melnyk et al. 2024, TRL aot): the batch's policy log-ratios h_π = log π(y_w) − log π(y_l) and
      // reference ones h_ref are sorted separately and compared rank by rank, so entry i is no longer
      // pair i: Δ_(i) = sort(h_π)_(i) − sort(h_ref)_(i); −(1−ε) log σ(βΔ) − ε log σ(−βΔ).
      auto h_policy = std::get<0>(torch::sort(t.policy_chosen - t.policy_rejected, 0));
      auto h_reference = std::get<0>(torch::sort(t.reference_chosen - t.reference_rejected, 0));
      return smoothed_logistic(beta * (h_policy - h_reference), eps);
    }
    case LossType::AotUnpaired: {
      // AOT unpaired (TRL aot_unpaired, formerly aot_pair): Δ_(i) = sort(a)_(i) − sort(b)_(i)
      auto a_sorted = std::get<0>(torch::sort(t.a, 0)), b_sorted = std::get<0>(torch::sort(t.b, 0));
      return smoothed_logistic(beta * (a_sorted - b_sorted), eps);
    }
    case LossType::FdpoForwardKl:
      // f-DPO (Wang et al. 2024) with forward KL, f'(u) = −1/u, u = π/π_ref: logit = e^−b − e^−a
      return smoothed_logistic(beta * (capped_exp(-t.b) - capped_exp(-t.a)), eps);
    case LossType::FdpoJs:
      // f-DPO with Jensen–Shannon, f'(u) = log(2u/(1+u)): logit = h − (softplus(a) − softplus(b))
      return smoothed_logistic(beta * ((t.a - t.b) - (F::softplus(t.a) - F::softplus(t.b))), eps);
    case LossType::FdpoAlpha: {
      // f-DPO with α-divergence, f'(u) = (1 − u^−α)/α: logit = (e^−αb − e^−αa)/α (TRL alpha_divergence)
      const double alpha = c.fdpo_alpha;
      return smoothed_logistic(beta * (capped_exp(-alpha * t.b) - capped_exp(-alpha * t.a)) / alpha, eps);
    }
  }
  throw ConfigError("unknown loss type");
}

void check_pairs(const Tensor& t, const Tensor& like, const char* what) {
  if (!t.defined()) throw ConfigError(std::string("loss: ") + what + " is missing");
  if (t.dim() != 1 || t.size(0) != like.size(0))
    throw ConfigError(std::string("loss: ") + what + " has " + std::to_string(t.numel()) + " values for " +
                      std::to_string(like.size(0)) + " pairs");
}

void check_config(const LossConfig& c, const std::vector<LossTerm>& terms) {
  if (!(c.beta > 0)) throw ConfigError("loss: beta must be > 0");
  if (!(c.label_smoothing >= 0 && c.label_smoothing < 1))
    throw ConfigError("loss: label smoothing must be in [0, 1)");
  if (!(c.ld_alpha >= 0 && c.ld_alpha <= 1)) throw ConfigError("loss: ld_alpha must be in [0, 1]");
  for (const auto& term : terms) {
    if (term.type == LossType::Robust && !(c.label_smoothing < 0.5))
      throw ConfigError("loss: robust needs label smoothing < 0.5 (it divides by 1 - 2 eps)");
    if (term.type == LossType::Discopop && !(c.discopop_tau > 0))
      throw ConfigError("loss: discopop needs tau > 0");
    if (term.type == LossType::FdpoAlpha && !(c.fdpo_alpha > 0 && std::isfinite(c.fdpo_alpha)))
      throw ConfigError("loss: fdpo_alpha needs alpha > 0 (alpha -> 0 is sigmoid, reverse KL)");
    if (!loss_info(term.type).paired)
      throw ConfigError(std::string("loss '") + std::string(loss_info(term.type).name) +
                        "' is unpaired: it is computed by kto_loss(), not preference_loss()");
  }
}

Tensor combined_losses(const LossConfig& c, const std::vector<LossTerm>& terms, const Terms& t) {
  Tensor total;
  for (const auto& term : terms) {
    auto l = term.weight * term_losses(term.type, c, t);
    total = total.defined() ? total + l : l;
  }
  if (c.rpo_alpha != 0) total = total + c.rpo_alpha * chosen_nll(t);
  if (t.wpo_weight.defined()) total = total * t.wpo_weight;
  return total;
}

Terms make_terms(const LossConfig& c, const PreferenceLogps& l, const Tensor& pc, const Tensor& pr) {
  Terms t{.policy_chosen = pc, .policy_rejected = pr};
  if (needs_reference(c)) {
    t.a = pc - l.reference_chosen;
    t.b = pr - l.reference_rejected;
    t.reference_chosen = l.reference_chosen;
    t.reference_rejected = l.reference_rejected;
  }
  if (needs_lengths(c)) {
    // An empty response would divide by zero; it has no tokens to average, so count it as one.
    t.chosen_tokens = l.chosen_tokens.to(pc.device(), pc.scalar_type()).clamp_min(1.0);
    t.rejected_tokens = l.rejected_tokens.to(pc.device(), pc.scalar_type()).clamp_min(1.0);
  }
  if (l.margin.defined()) t.margin = l.margin.to(pc.device(), pc.scalar_type());
  if (c.wpo_weighting)
    t.wpo_weight =
        (l.chosen_wpo + l.rejected_wpo).detach().to(pc.device(), pc.scalar_type()).exp().clamp_max(1.0);
  return t;
}
}  // namespace

std::vector<LossTerm> parse_loss_terms(std::string_view spec, std::string_view what) {
  std::vector<LossTerm> terms;
  for (const auto& item : split_weighted_list(spec)) {
    const auto type = parse_loss_type(item.name);
    if (!type) {
      std::string known;
      for (const auto& info : loss_table()) known += (known.empty() ? "" : ", ") + std::string(info.name);
      throw ConfigError("unknown " + std::string(what) + " '" + item.name + "' (known: " + known + ")");
    }
    terms.push_back({*type, item.weight});
  }
  return terms;
}

std::vector<LossTerm> loss_terms(const LossConfig& config) {
  if (!config.terms.empty()) return config.terms;
  return {{config.type, 1.0}};
}

bool needs_reference(const LossConfig& config) {
  for (const auto& term : loss_terms(config))
    if (loss_info(term.type).needs_reference) return true;
  return false;
}

bool needs_lengths(const LossConfig& config) {
  if (config.rpo_alpha != 0) return true;
  for (const auto& term : loss_terms(config))
    if (loss_info(term.type).needs_lengths) return true;
  return false;
}

LossOutput preference_loss(const LossConfig& config, const PreferenceLogps& logps) {
  const auto terms = loss_terms(config);
  check_config(config, terms);
  const auto& pc = logps.policy_chosen;
  if (!pc.defined() || pc.dim() != 1)
    throw ConfigError("loss: policy chosen log-probs must be one value per pair");
  check_pairs(logps.policy_rejected, pc, "policy rejected log-probs");
  const bool use_reference = needs_reference(config);
  if (use_reference) {
    check_pairs(logps.reference_chosen, pc, "reference chosen log-probs");
    check_pairs(logps.reference_rejected, pc, "reference rejected log-probs");
  }
  if (needs_lengths(config)) {
    check_pairs(logps.chosen_tokens, pc, "chosen response lengths");
    check_pairs(logps.rejected_tokens, pc, "rejected response lengths");
  }
  if (logps.margin.defined()) check_pairs(logps.margin, pc, "margin");
  if (config.wpo_weighting) {
    check_pairs(logps.chosen_wpo, pc, "WPO chosen weights");
    check_pairs(logps.rejected_wpo, pc, "WPO rejected weights");
  }

  LossOutput out;
  out.losses = combined_losses(config, terms, make_terms(config, logps, pc, logps.policy_rejected));  // (B)
  const auto chosen = use_reference ? pc - logps.reference_chosen : pc;
  const auto rejected =
      use_reference ? logps.policy_rejected - logps.reference_rejected : logps.policy_rejected;
  out.chosen_rewards = (config.beta * chosen).detach();
  out.rejected_rewards = (config.beta * rejected).detach();

  {
    // A second, detached evaluation so the weight never touches the caller's graph; pairs are
    // independent, so the gradient of the sum is the per-pair gradient. Cheap: (B) scalars.
    torch::AutoGradMode enable_grad(true);
    auto leaf_w = pc.detach().requires_grad_(true);
    auto leaf_l = logps.policy_rejected.detach().requires_grad_(true);
    auto losses = combined_losses(config, terms, make_terms(config, logps, leaf_w, leaf_l));
    auto grads = torch::autograd::grad({losses.sum()}, {leaf_w, leaf_l}, {}, false, false, true);
    auto gw = grads[0].defined() ? grads[0] : torch::zeros_like(leaf_w);
    auto gl = grads[1].defined() ? grads[1] : torch::zeros_like(leaf_l);
    out.gradient_weight = ((gl - gw) / (2.0 * config.beta)).detach();
  }
  return out;
}

KtoOutput kto_loss(const KtoConfig& config, const Tensor& policy_logps, const Tensor& reference_logps,
                   const Tensor& desirable, const Tensor& kl_policy_logps, const Tensor& kl_reference_logps) {
  if (!(config.beta > 0)) throw ConfigError("kto: beta must be > 0");
  if (!policy_logps.defined() || policy_logps.dim() != 1)
    throw ConfigError("kto: policy log-probs must be one value per example");
  check_pairs(reference_logps, policy_logps, "kto reference log-probs");
  check_pairs(desirable, policy_logps, "kto desirable mask");
  if (!kl_policy_logps.defined() || !kl_reference_logps.defined() ||
      kl_policy_logps.sizes() != kl_reference_logps.sizes() || kl_policy_logps.numel() == 0)
    throw ConfigError("kto: the KL estimate needs matching, non-empty policy and reference log-probs");
  auto logratios = policy_logps - reference_logps;                                  // (N)
  auto kl = (kl_policy_logps - kl_reference_logps).mean().clamp_min(0.0).detach();  // ()
  auto is_desirable = desirable.to(torch::kBool).to(policy_logps.device());
  auto desirable_losses = config.desirable_weight * (1.0 - torch::sigmoid(config.beta * (logratios - kl)));
  auto undesirable_losses =
      config.undesirable_weight * (1.0 - torch::sigmoid(config.beta * (kl - logratios)));
  return {torch::where(is_desirable, desirable_losses, undesirable_losses),
          (config.beta * logratios).detach(), kl};
}

}  // namespace dpo
