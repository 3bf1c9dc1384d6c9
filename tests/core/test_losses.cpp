#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <set>

#include "core/runtime/error.h"
#include "core/train/losses.h"

using dpo::LossConfig;
using dpo::PreferenceLogps;

namespace {
PreferenceLogps logps(std::vector<double> pc, std::vector<double> pr, std::vector<double> rc,
                      std::vector<double> rr) {
  auto t = [](const std::vector<double>& v) { return torch::tensor(v, torch::kFloat64); };
  return {.policy_chosen = t(pc),
          .policy_rejected = t(pr),
          .reference_chosen = t(rc),
          .reference_rejected = t(rr)};
}
}  // namespace

TEST(SigmoidLoss, AllLogRatiosZeroGiveLn2) {
  // π = π_ref on every pair: h = 0, loss = −log σ(0) = ln 2 whatever β is.
  for (double beta : {0.01, 0.1, 1.0, 10.0}) {
    auto out = dpo::preference_loss({.type = dpo::LossType::Sigmoid, .beta = beta},
                                    logps({-3, -12.5}, {-4, -1}, {-3, -12.5}, {-4, -1}));
    EXPECT_DOUBLE_EQ(out.losses[0].item<double>(), std::log(2.0));
    EXPECT_DOUBLE_EQ(out.losses[1].item<double>(), std::log(2.0));
    EXPECT_DOUBLE_EQ(out.chosen_rewards[0].item<double>(), 0.0);
  }
}

TEST(SigmoidLoss, WorkedExampleByHand) {
  // log π(y_w) = −5, log π_ref(y_w) = −6  → chosen log-ratio  = +1
  // log π(y_l) = −7, log π_ref(y_l) = −6  → rejected log-ratio = −1
  // β = 0.5: r_w = 0.5, r_l = −0.5, β·h = 1
  // loss = −log σ(1) = log(1 + e^−1) = 0.31326168751822286
  auto out =
      dpo::preference_loss({.type = dpo::LossType::Sigmoid, .beta = 0.5}, logps({-5}, {-7}, {-6}, {-6}));
  EXPECT_NEAR(out.losses[0].item<double>(), 0.31326168751822286, 1e-15);
  EXPECT_DOUBLE_EQ(out.chosen_rewards[0].item<double>(), 0.5);
  EXPECT_DOUBLE_EQ(out.rejected_rewards[0].item<double>(), -0.5);
}

TEST(SigmoidLoss, LabelSmoothingIsConservativeDpo) {
  // cDPO, ε = 0.1, β·h = 1: 0.9·log(1 + e^−1) + 0.1·log(1 + e^1)
  //   = 0.9·0.31326168751822286 + 0.1·1.3132616875182228 = 0.41326168751822285
  auto out = dpo::preference_loss({.type = dpo::LossType::Sigmoid, .beta = 0.5, .label_smoothing = 0.1},
                                  logps({-5}, {-7}, {-6}, {-6}));
  EXPECT_NEAR(out.losses[0].item<double>(), 0.41326168751822285, 1e-15);
}

TEST(SigmoidLoss, GradientIsBetaTimesMisrankingWeight) {
  // Seed 002 §5: ∂L/∂log π(y_w) = −β·σ(r_l − r_w), ∂L/∂log π(y_l) = +β·σ(r_l − r_w).
  const double beta = 0.3;
  auto pc = torch::tensor({-10.0, -3.0, -8.0, -20.0}, torch::kFloat64).requires_grad_(true);
  auto pr = torch::tensor({-12.0, -2.0, -8.5, -15.0}, torch::kFloat64).requires_grad_(true);
  auto rc = torch::tensor({-11.0, -3.5, -7.0, -19.0}, torch::kFloat64);
  auto rr = torch::tensor({-11.5, -2.5, -9.0, -16.0}, torch::kFloat64);
  auto out = dpo::preference_loss(
      {.type = dpo::LossType::Sigmoid, .beta = beta},
      {.policy_chosen = pc, .policy_rejected = pr, .reference_chosen = rc, .reference_rejected = rr});
  out.losses.sum().backward();
  for (int64_t i = 0; i < 4; ++i) {
    const double rw = beta * (pc[i].item<double>() - rc[i].item<double>());
    const double rl = beta * (pr[i].item<double>() - rr[i].item<double>());
    const double weight = 1.0 / (1.0 + std::exp(-(rl - rw)));
    EXPECT_NEAR(pc.grad()[i].item<double>(), -beta * weight, 1e-12) << "pair " << i;
    EXPECT_NEAR(pr.grad()[i].item<double>(), beta * weight, 1e-12) << "pair " << i;
  }
}

TEST(SigmoidLoss, StableAtHugeMargins) {
  for (double h : {1e4, -1e4}) {
    auto pc = torch::tensor({h}, torch::kFloat32).requires_grad_(true);
    auto out = dpo::preference_loss({.type = dpo::LossType::Sigmoid, .beta = 1.0},
                                    {.policy_chosen = pc,
                                     .policy_rejected = torch::zeros({1}),
                                     .reference_chosen = torch::zeros({1}),
                                     .reference_rejected = torch::zeros({1})});
    out.losses.sum().backward();
    EXPECT_TRUE(std::isfinite(out.losses[0].item<double>()));
    EXPECT_TRUE(std::isfinite(pc.grad()[0].item<double>()));
    // Mis-ranked by 1e4 nats: loss ≈ 1e4 and gradient −1; well ranked: loss ≈ 0, gradient ≈ 0.
    EXPECT_NEAR(out.losses[0].item<double>(), h < 0 ? 1e4 : 0.0, 1e-3);
    EXPECT_NEAR(pc.grad()[0].item<double>(), h < 0 ? -1.0 : 0.0, 1e-6);
  }
}

TEST(LossTable, SigmoidIsNamedAndParsed) {
  ASSERT_TRUE(dpo::parse_loss_type("sigmoid").has_value());
  EXPECT_EQ(dpo::loss_info(dpo::LossType::Sigmoid).name, "sigmoid");
  EXPECT_FALSE(dpo::parse_loss_type("nonsense").has_value());
}

TEST(LossTable, ParsesWeightedCombinations) {
  const auto single = dpo::parse_loss_terms("ipo");
  ASSERT_EQ(single.size(), 1u);
  EXPECT_EQ(single[0].type, dpo::LossType::Ipo);
  EXPECT_EQ(single[0].weight, 1.0);
  const auto mix = dpo::parse_loss_terms("sigmoid:1,sppo_hard:0.5");
  ASSERT_EQ(mix.size(), 2u);
  EXPECT_EQ(mix[0].type, dpo::LossType::Sigmoid);
  EXPECT_EQ(mix[1].type, dpo::LossType::SppoHard);
  EXPECT_EQ(mix[1].weight, 0.5);
  EXPECT_THROW(dpo::parse_loss_terms("sigmoid:0.5x"), dpo::ConfigError);
  try {
    dpo::parse_loss_terms("sigmoid,nonsense", "--type");
    FAIL() << "no error";
  } catch (const dpo::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown --type 'nonsense'"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------------------------
// The full table. Golden inputs shared by most tests, chosen to be checkable with a calculator:
//   log π(y_w) = −5, log π_ref(y_w) = −6 → a = +1;   log π(y_l) = −7, log π_ref(y_l) = −6 → b = −1
//   h = a − b = 2; |y_w| = 2, |y_l| = 4 → avg log π(y_w) = −2.5, avg log π(y_l) = −1.75
// Identities used below: −log σ(x) = log(1 + e^−x); σ(x) = 1 / (1 + e^−x).
namespace {
using dpo::LossType;

PreferenceLogps golden() {
  auto t = [](double v) { return torch::tensor({v}, torch::kFloat64); };
  return {.policy_chosen = t(-5),
          .policy_rejected = t(-7),
          .reference_chosen = t(-6),
          .reference_rejected = t(-6),
          .chosen_tokens = t(2),
          .rejected_tokens = t(4)};
}

LossConfig config(LossType type, double beta) {
  LossConfig c;
  c.type = type;
  c.beta = beta;
  return c;
}

double loss0(const LossConfig& c, const PreferenceLogps& l) {
  return dpo::preference_loss(c, l).losses[0].item<double>();
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double softplus(double x) { return std::log1p(std::exp(x)); }  // = −log σ(−x)

// One configuration per table entry (kto is unpaired), with its variant options set, for the
// gradient and stability sweeps.
std::vector<LossConfig> every_paired_loss() {
  std::vector<LossConfig> out;
  for (const auto& info : dpo::loss_table()) {
    if (!info.paired) continue;
    auto c = config(info.type, info.default_beta);
    if (info.type == LossType::Sigmoid || info.type == LossType::Robust) c.label_smoothing = 0.1;
    if (info.type == LossType::BcoPair) c.bco_delta = 0.2;
    if (info.type == LossType::RdpoLength) c.length_alpha = 0.1;
    out.push_back(c);
  }
  return out;
}
}  // namespace

TEST(LossGolden, Robust) {
  // ε = 0.1, βh = 1: [0.9·log(1 + e^−1) − 0.1·log(1 + e^1)] / 0.8
  //   = [0.9·0.31326168751822286 − 0.1·1.3132616875182228] / 0.8 = 0.1882616875182229
  auto c = config(LossType::Robust, 0.5);
  c.label_smoothing = 0.1;
  EXPECT_NEAR(loss0(c, golden()), 0.1882616875182229, 1e-15);
}

TEST(LossGolden, IpoUsesPerTokenAverages) {
  // h̄ = a/|y_w| − b/|y_l| = 1/2 + 1/4 = 0.75; 1/(2β) = 1; (0.75 − 1)² = 0.0625
  EXPECT_NEAR(loss0(config(LossType::Ipo, 0.5), golden()), 0.0625, 1e-15);
}

TEST(LossGolden, Hinge) {
  // β = 0.25: max(0, 1 − 0.25·2) = 0.5; β = 1: max(0, 1 − 2) = 0 (already past the margin)
  EXPECT_NEAR(loss0(config(LossType::Hinge, 0.25), golden()), 0.5, 1e-15);
  EXPECT_EQ(loss0(config(LossType::Hinge, 1.0), golden()), 0.0);
}

TEST(LossGolden, MarginAdaptive) {
  // γ = 1, score_w − score_l = 0.5: −log σ(1 − 0.5) = log(1 + e^−0.5) = 0.4740769841801067
  auto l = golden();
  l.margin = torch::tensor({0.5}, torch::kFloat64);
  EXPECT_NEAR(loss0(config(LossType::Margin, 0.5), l), 0.4740769841801067, 1e-15);
  // γ = 2 doubles the margin: −log σ(1 − 1) = ln 2
  auto c = config(LossType::Margin, 0.5);
  c.margin_gamma = 2.0;
  EXPECT_NEAR(loss0(c, l), std::log(2.0), 1e-15);
  // no scores: plain DPO
  EXPECT_NEAR(loss0(config(LossType::Margin, 0.5), golden()), 0.31326168751822286, 1e-15);
}

TEST(LossGolden, LengthRegularised) {
  // α = 0.1: −log σ(1 + 0.1·(2 − 4)) = log(1 + e^−0.8) = 0.3711006659477777
  // (python: math.log1p(math.exp(-0.8)))
  auto c = config(LossType::RdpoLength, 0.5);
  c.length_alpha = 0.1;
  EXPECT_NEAR(loss0(c, golden()), 0.3711006659477777, 1e-15);
}

TEST(LossGolden, Simpo) {
  // β = 2, γ = 0.5 (defaults): 2·(−2.5 − (−1.75)) − 0.5 = −2; −log σ(−2) = log(1 + e^2) = 2.1269280110429727
  const auto& info = dpo::loss_info(LossType::Simpo);
  EXPECT_EQ(info.default_beta, 2.0);
  auto c = config(LossType::Simpo, info.default_beta);
  EXPECT_EQ(c.simpo_gamma, 0.5);
  EXPECT_NEAR(loss0(c, golden()), 2.1269280110429727, 1e-14);
}

TEST(LossGolden, Orpo) {
  // odds_w = −2.5 − log(1 − e^−2.5) = −2.5 + 0.0856504837420 = −2.414349516257962
  // odds_l = −1.75 − log(1 − e^−1.75) = −1.75 + 0.1908868666935 = −1.5591131333064532
  // NLL = 5/2 = 2.5; λ = 0.1: 2.5 + 0.1·log(1 + e^0.8552363829515086) = 2.6209536380222684
  EXPECT_NEAR(loss0(config(LossType::Orpo, 0.1), golden()), 2.6209536380222684, 1e-14);
}

TEST(LossGolden, Cpo) {
  // β(log π(y_w) − log π(y_l)) = 0.5·2 = 1: log(1 + e^−1) + 5/2 = 2.813261687518223
  EXPECT_NEAR(loss0(config(LossType::Cpo, 0.5), golden()), 2.813261687518223, 1e-14);
}

TEST(LossGolden, BcoPair) {
  // δ = 0.25, r_w = 0.5, r_l = −0.5: −log σ(0.25) − log σ(0.75) = log(1 + e^−0.25) + log(1 + e^−0.75)
  //   = 0.5759926131... + 0.3868178128... = 0.9628104259937436
  auto c = config(LossType::BcoPair, 0.5);
  c.bco_delta = 0.25;
  EXPECT_NEAR(loss0(c, golden()), 0.9628104259937436, 1e-15);
}

TEST(LossGolden, NcaPair) {
  // r_w = 0.5, r_l = −0.5: −log σ(0.5) − ½ log σ(−0.5) − ½ log σ(0.5)
  //   = 1.5·log(1 + e^−0.5) + 0.5·log(1 + e^0.5) = 1.5·0.474076984 + 0.5·0.974076984 = 1.1981539683602134
  EXPECT_NEAR(loss0(config(LossType::NcaPair, 0.5), golden()), 1.1981539683602134, 1e-15);
}

TEST(LossGolden, ExoPairDefaultsEpsilonTo1e3) {
  // βh = 1, ε = 1e-3: σ(1)(log σ(1) − log 0.999) + σ(−1)(log σ(−1) − log 0.001)
  //   = 0.7310585786·(−0.3132616875 + 0.0010005003) + 0.2689414214·(−1.3132616875 + 6.9077552790)
  //   = 1.2763098386691134
  EXPECT_NEAR(loss0(config(LossType::ExoPair, 0.5), golden()), 1.2763098386691134, 1e-14);
  auto c = config(LossType::ExoPair, 0.5);
  c.label_smoothing = 1e-3;
  EXPECT_NEAR(loss0(c, golden()), 1.2763098386691134, 1e-14);
}

TEST(LossGolden, SppoHard) {
  // β = 0.5: (a − 1)² + (b + 1)² = 0 (the pair sits at its targets); β = 1: (1 − 0.5)² + (−1 + 0.5)² = 0.5
  EXPECT_NEAR(loss0(config(LossType::SppoHard, 0.5), golden()), 0.0, 1e-15);
  EXPECT_NEAR(loss0(config(LossType::SppoHard, 1.0), golden()), 0.5, 1e-15);
}

TEST(LossGolden, ApoZero) {
  // 1 − σ(0.5) + σ(−0.5) = 2σ(−0.5) = 2 / (1 + e^0.5) = 0.7550813375962908
  EXPECT_NEAR(loss0(config(LossType::ApoZero, 0.5), golden()), 0.7550813375962908, 1e-15);
}

TEST(LossGolden, ApoDown) {
  // σ(0.5) + 1 − σ(1) = 0.6224593312 + 1 − 0.7310585786 = 0.8914007525718496
  EXPECT_NEAR(loss0(config(LossType::ApoDown, 0.5), golden()), 0.8914007525718496, 1e-15);
}

TEST(LossGolden, Discopop) {
  // x = βh = 1, τ = 0.05: −log σ(1)·σ(−20) + e^−1·σ(20)
  //   = 0.3132616875·2.06e−9 + 0.3678794412·(1 − 2.06e−9) = 0.3678794410588667
  EXPECT_NEAR(loss0(config(LossType::Discopop, 0.5), golden()), 0.3678794410588667, 1e-15);
}

TEST(LossGolden, SigmoidNormUsesPerTokenAverageLogRatios) {
  // a/|y_w| − b/|y_l| = 1/2 + 1/4 = 0.75; β = 0.5: log(1 + e^−0.375) = 0.52312326413984
  EXPECT_NEAR(loss0(config(LossType::SigmoidNorm, 0.5), golden()), 0.52312326413984, 1e-14);
  EXPECT_EQ(dpo::loss_info(LossType::SigmoidNorm).default_beta, 5.0);  // Tulu 3's dpo-norm β
}

TEST(LossGolden, FdpoForwardKl) {
  // f'(u) = −1/u: logit = e^−b − e^−a = e − 1/e = 2 sinh 1 = 2.3504023872876028;
  // β = 0.5: log(1 + e^−1.1752011936438014) = 0.26907771988202195
  EXPECT_NEAR(loss0(config(LossType::FdpoForwardKl, 0.5), golden()), 0.26907771988202195, 1e-14);
}

TEST(LossGolden, FdpoJensenShannon) {
  // logit = h − (softplus(a) − softplus(b)) = 2 − (softplus(1) − softplus(−1)) = 2 − 1 = 1
  // (softplus(x) − softplus(−x) = x); β = 0.5: log(1 + e^−0.5) = 0.4740769841801067
  EXPECT_NEAR(loss0(config(LossType::FdpoJs, 0.5), golden()), 0.4740769841801067, 1e-14);
}

TEST(LossGolden, FdpoAlphaDivergence) {
  // α = 0.5 (default): logit = (e^{0.5} − e^{−0.5}) / 0.5 = 2.0843812219749895;
  // β = 0.5: log(1 + e^−1.0421906109874948) = 0.30208873215374477
  auto c = config(LossType::FdpoAlpha, 0.5);
  EXPECT_EQ(c.fdpo_alpha, 0.5);
  EXPECT_NEAR(loss0(c, golden()), 0.30208873215374477, 1e-14);
  // α = 1 is forward KL; α → 0 is reverse KL, i.e. plain DPO: −log σ(0.5·2) = 0.31326168751822286
  c.fdpo_alpha = 1.0;
  EXPECT_NEAR(loss0(c, golden()), loss0(config(LossType::FdpoForwardKl, 0.5), golden()), 1e-15);
  c.fdpo_alpha = 1e-7;
  EXPECT_NEAR(loss0(c, golden()), 0.31326168751822286, 1e-6);
  c.fdpo_alpha = 0.0;
  EXPECT_THROW(loss0(c, golden()), dpo::ConfigError);
}

namespace {
// Three pairs: h_π = log π(y_w) − log π(y_l) = {2, 1, −2}, h_ref = {0, 2, 0},
// a = {1, 0, −1}, b = {−1, 1, 1}.
PreferenceLogps aot_batch() { return logps({-5, -3, -8}, {-7, -4, -6}, {-6, -3, -7}, {-6, -5, -7}); }
}  // namespace

TEST(LossGolden, AotComparesSortedLogRatios) {
  // sort(h_π) = {−2, 1, 2}, sort(h_ref) = {0, 0, 2}: Δ = {−2, 1, 0}; β = 1:
  //   log(1 + e^2) = 2.1269280110429727, log(1 + e^−1) = 0.31326168751822286, ln 2
  auto out = dpo::preference_loss(config(LossType::Aot, 1.0), aot_batch());
  EXPECT_NEAR(out.losses[0].item<double>(), 2.1269280110429727, 1e-14);
  EXPECT_NEAR(out.losses[1].item<double>(), 0.31326168751822286, 1e-14);
  EXPECT_NEAR(out.losses[2].item<double>(), std::log(2.0), 1e-14);
}

TEST(LossGolden, AotUnpairedComparesSortedChosenAndRejectedRatios) {
  // sort(a) = {−1, 0, 1}, sort(b) = {−1, 1, 1}: Δ = {0, −1, 0}; β = 1: ln 2, log(1 + e) = 1.3132616875182228,
  // ln 2
  auto out = dpo::preference_loss(config(LossType::AotUnpaired, 1.0), aot_batch());
  EXPECT_NEAR(out.losses[0].item<double>(), std::log(2.0), 1e-14);
  EXPECT_NEAR(out.losses[1].item<double>(), 1.3132616875182228, 1e-14);
  EXPECT_NEAR(out.losses[2].item<double>(), std::log(2.0), 1e-14);
  // One pair alone is plain DPO (nothing to sort): −log σ(β(a − b)) with a − b = 2
  auto one = dpo::preference_loss(config(LossType::AotUnpaired, 0.5), golden());
  EXPECT_NEAR(one.losses[0].item<double>(), 0.31326168751822286, 1e-14);
}

TEST(LossGolden, WpoWeightsEachPairByItsOwnProbability) {
  // w̄_w + w̄_l = −0.5 − 0.25: weight e^−0.75 = 0.4723665527410147 times −log σ(1) = 0.31326168751822286
  //   = 0.14797434343881588; a positive sum is clamped to weight 1.
  auto l = golden();
  l.chosen_wpo = torch::tensor({-0.5}, torch::kFloat64);
  l.rejected_wpo = torch::tensor({-0.25}, torch::kFloat64);
  auto c = config(LossType::Sigmoid, 0.5);
  c.wpo_weighting = true;
  EXPECT_NEAR(loss0(c, l), 0.14797434343881588, 1e-15);
  l.rejected_wpo = torch::tensor({0.75}, torch::kFloat64);
  EXPECT_NEAR(loss0(c, l), 0.31326168751822286, 1e-15);
  l.chosen_wpo = torch::Tensor();
  EXPECT_THROW(loss0(c, l), dpo::ConfigError);
}

TEST(LossGolden, KtoDesirableAndUndesirable) {
  // Examples: a = +1 (desirable), a = −1 (undesirable); KL pairs: log-ratios 0.5 and 0.1 → z₀ = 0.3.
  // β = 0.5, λ_D = 1, λ_U = 2:
  //   desirable:   1 − σ(0.5·(1 − 0.3)) = 1 − σ(0.35) = 0.41338242108267
  //   undesirable: 2·(1 − σ(0.5·(0.3 + 1))) = 2·(1 − σ(0.65)) = 0.68600809184
  auto f = [](std::vector<double> v) { return torch::tensor(v, torch::kFloat64); };
  auto out = dpo::kto_loss({0.5, 1.0, 2.0}, f({-5, -7}), f({-6, -6}), torch::tensor({true, false}),
                           f({-3.5, -4.9}), f({-4, -5}));
  EXPECT_NEAR(out.kl.item<double>(), 0.3, 1e-15);
  EXPECT_NEAR(out.losses[0].item<double>(), 1.0 - sigmoid(0.35), 1e-15);
  EXPECT_NEAR(out.losses[0].item<double>(), 0.41338242108267, 1e-13);
  EXPECT_NEAR(out.losses[1].item<double>(), 2.0 * (1.0 - sigmoid(0.65)), 1e-15);
  EXPECT_NEAR(out.rewards[1].item<double>(), -0.5, 1e-15);
  // A negative KL estimate is clamped to 0: 1 − σ(0.5) = 0.3775406687981454
  auto clamped = dpo::kto_loss({0.5, 1.0, 1.0}, f({-5}), f({-6}), torch::tensor({true}), f({-5}), f({-4}));
  EXPECT_EQ(clamped.kl.item<double>(), 0.0);
  EXPECT_NEAR(clamped.losses[0].item<double>(), 0.3775406687981454, 1e-15);
}

TEST(LossGradient, EveryLossMatchesCentralDifferences) {
  // float64, three pairs away from every kink (hinge: βh ≠ 1; aot: no ties among a, b, h_π or h_ref),
  // lengths 3/5/2 and 4/1/6. The derivative is of the batch's summed loss: aot's entry i is not pair i.
  const std::vector<double> pc0 = {-10.0, -3.0, -8.0}, pr0 = {-12.0, -2.0, -8.5};
  auto rc = torch::tensor({-11.0, -3.5, -7.0}, torch::kFloat64);
  auto rr = torch::tensor({-11.5, -2.5, -9.2}, torch::kFloat64);
  auto nw = torch::tensor({3.0, 5.0, 2.0}, torch::kFloat64),
       nl = torch::tensor({4.0, 1.0, 6.0}, torch::kFloat64);
  auto margin = torch::tensor({0.3, -0.2, 1.0}, torch::kFloat64);
  auto eval = [&](const LossConfig& c, const torch::Tensor& pc, const torch::Tensor& pr) {
    PreferenceLogps l{pc, pr, rc, rr, nw, nl, margin};
    return dpo::preference_loss(c, l);
  };
  auto configs = every_paired_loss();
  LossConfig combined = config(LossType::Sigmoid, 0.3);
  combined.terms = {{LossType::Sigmoid, 1.0}, {LossType::SppoHard, 0.25}, {LossType::Simpo, 0.5}};
  combined.rpo_alpha = 0.7;
  configs.push_back(combined);
  const double step = 1e-6;
  for (const auto& c : configs) {
    const std::string name(dpo::loss_info(c.type).name);
    auto pc = torch::tensor(pc0, torch::kFloat64).requires_grad_(true);
    auto pr = torch::tensor(pr0, torch::kFloat64).requires_grad_(true);
    auto out = eval(c, pc, pr);
    out.losses.sum().backward();
    for (size_t i = 0; i < pc0.size(); ++i) {
      for (int side = 0; side < 2; ++side) {
        auto fd = [&](double delta) {
          auto w = pc0, l = pr0;
          (side == 0 ? w : l)[i] += delta;
          return eval(c, torch::tensor(w, torch::kFloat64), torch::tensor(l, torch::kFloat64))
              .losses.sum()
              .item<double>();
        };
        const double numeric = (fd(step) - fd(-step)) / (2 * step);
        const double analytic = (side == 0 ? pc : pr).grad()[static_cast<int64_t>(i)].item<double>();
        EXPECT_NEAR(analytic, numeric, 1e-6 * std::max(1.0, std::abs(numeric)))
            << name << " pair " << i << (side == 0 ? " chosen" : " rejected");
      }
      // gradient_weight is the same gradient, read along h and divided by β.
      const double weight = (pr.grad()[i].item<double>() - pc.grad()[i].item<double>()) / (2 * c.beta);
      EXPECT_NEAR(out.gradient_weight[static_cast<int64_t>(i)].item<double>(), weight, 1e-12) << name;
    }
  }
}

TEST(LossGradient, KtoMatchesCentralDifferences) {
  const std::vector<double> p0 = {-4.0, -9.0, -2.5};
  auto ref = torch::tensor({-5.0, -8.0, -2.0}, torch::kFloat64);
  auto desirable = torch::tensor({true, false, true});
  auto kl_p = torch::tensor({-3.0, -6.0}, torch::kFloat64),
       kl_r = torch::tensor({-3.5, -6.1}, torch::kFloat64);
  auto p = torch::tensor(p0, torch::kFloat64).requires_grad_(true);
  dpo::kto_loss({0.4, 1.0, 1.5}, p, ref, desirable, kl_p, kl_r).losses.sum().backward();
  for (size_t i = 0; i < p0.size(); ++i) {
    auto fd = [&](double delta) {
      auto v = p0;
      v[i] += delta;
      return dpo::kto_loss({0.4, 1.0, 1.5}, torch::tensor(v, torch::kFloat64), ref, desirable, kl_p, kl_r)
          .losses[static_cast<int64_t>(i)]
          .item<double>();
    };
    EXPECT_NEAR(p.grad()[static_cast<int64_t>(i)].item<double>(), (fd(1e-6) - fd(-1e-6)) / 2e-6, 1e-8);
  }
}

TEST(LossStability, EveryLossFiniteAtHugeMargins) {
  // float32, |h| = 1e4 both ways (pair 0 well ranked, pair 1 mis-ranked), one-token responses.
  for (const auto& c : every_paired_loss()) {
    const std::string name(dpo::loss_info(c.type).name);
    auto pc = torch::tensor({-1.0f, -10001.0f}).requires_grad_(true);
    auto pr = torch::tensor({-10001.0f, -1.0f}).requires_grad_(true);
    PreferenceLogps l{pc,
                      pr,
                      torch::zeros({2}),
                      torch::zeros({2}),
                      torch::ones({2}),
                      torch::ones({2}),
                      torch::tensor({0.5f, -0.5f})};
    auto out = dpo::preference_loss(c, l);
    out.losses.sum().backward();
    EXPECT_TRUE(torch::isfinite(out.losses).all().item<bool>()) << name << " " << out.losses;
    EXPECT_TRUE(torch::isfinite(pc.grad()).all().item<bool>()) << name << " " << pc.grad();
    EXPECT_TRUE(torch::isfinite(pr.grad()).all().item<bool>()) << name << " " << pr.grad();
    EXPECT_TRUE(torch::isfinite(out.gradient_weight).all().item<bool>()) << name;
  }
  auto p = torch::tensor({-1.0f, -10001.0f}).requires_grad_(true);
  auto kto = dpo::kto_loss({}, p, torch::zeros({2}), torch::tensor({true, false}), torch::tensor({1e4f}),
                           torch::zeros({1}));
  kto.losses.sum().backward();
  EXPECT_TRUE(torch::isfinite(kto.losses).all().item<bool>());
  EXPECT_TRUE(torch::isfinite(p.grad()).all().item<bool>());
}

TEST(LossStability, OrpoNearProbabilityOne) {
  // avg log π = 0 would give infinite odds; the clamp keeps loss and gradient finite.
  auto pc = torch::tensor({0.0, -1e-12}, torch::kFloat64).requires_grad_(true);
  PreferenceLogps l{.policy_chosen = pc,
                    .policy_rejected = torch::tensor({-3.0, -3.0}, torch::kFloat64),
                    .chosen_tokens = torch::ones({2}, torch::kFloat64),
                    .rejected_tokens = torch::ones({2}, torch::kFloat64)};
  auto out = dpo::preference_loss(config(LossType::Orpo, 0.1), l);
  out.losses.sum().backward();
  EXPECT_TRUE(torch::isfinite(out.losses).all().item<bool>());
  EXPECT_TRUE(torch::isfinite(pc.grad()).all().item<bool>());
}

TEST(LossCombination, WeightedSumOfTerms) {
  // 1·sigmoid + 0.5·sppo_hard(β = 1) + 2·apo_zero(β = 1) on the golden pair, all at β = 1:
  //   sigmoid: log(1 + e^−2); sppo_hard: 0.5; apo_zero: 1 − σ(1) + σ(−1) = 2σ(−1)
  auto c = config(LossType::Hinge, 1.0);  // `type` is ignored once terms are given
  c.terms = {{LossType::Sigmoid, 1.0}, {LossType::SppoHard, 0.5}, {LossType::ApoZero, 2.0}};
  const double expected = softplus(-2.0) + 0.5 * 0.5 + 2.0 * 2.0 * sigmoid(-1.0);
  EXPECT_NEAR(loss0(c, golden()), expected, 1e-14);
  double sum = 0;
  for (const auto& term : c.terms) sum += term.weight * loss0(config(term.type, 1.0), golden());
  EXPECT_NEAR(loss0(c, golden()), sum, 1e-14);
}

TEST(LossCombination, RpoAlphaAddsChosenNll) {
  // rpo_alpha = 0.5: sigmoid + 0.5·(5/2) = 0.31326168751822286 + 1.25
  auto c = config(LossType::Sigmoid, 0.5);
  c.rpo_alpha = 0.5;
  EXPECT_NEAR(loss0(c, golden()), 1.5632616875182229, 1e-15);
  // rpo_alpha reads |y_w|, so lengths become required even for sigmoid.
  EXPECT_THROW(dpo::preference_loss(c, logps({-5}, {-7}, {-6}, {-6})), dpo::ConfigError);
}

TEST(LossReferenceFree, IgnoresReferenceTensors) {
  for (auto type : {LossType::Simpo, LossType::Orpo, LossType::Cpo}) {
    EXPECT_FALSE(dpo::loss_info(type).needs_reference);
    auto with_reference = golden();
    auto without = golden();
    without.reference_chosen = torch::Tensor();
    without.reference_rejected = torch::Tensor();
    auto c = config(type, 0.5);
    auto a = dpo::preference_loss(c, with_reference), b = dpo::preference_loss(c, without);
    EXPECT_EQ(a.losses[0].item<double>(), b.losses[0].item<double>());
    // Rewards are β·log π when there is no reference: 0.5·(−5), 0.5·(−7).
    EXPECT_EQ(b.chosen_rewards[0].item<double>(), -2.5);
    EXPECT_EQ(b.rejected_rewards[0].item<double>(), -3.5);
  }
  for (const auto& info : dpo::loss_table()) {
    if (info.type != LossType::Simpo && info.type != LossType::Orpo && info.type != LossType::Cpo) {
      EXPECT_TRUE(info.needs_reference) << info.name;
    }
  }
}

TEST(LossInputs, MissingPiecesAreConfigErrors) {
  auto no_lengths = logps({-5}, {-7}, {-6}, {-6});
  for (auto type : {LossType::Ipo, LossType::Simpo, LossType::Orpo, LossType::Cpo, LossType::RdpoLength})
    EXPECT_THROW(dpo::preference_loss(config(type, 0.5), no_lengths), dpo::ConfigError);
  auto no_reference = golden();
  no_reference.reference_rejected = torch::Tensor();
  EXPECT_THROW(dpo::preference_loss(config(LossType::Sigmoid, 0.5), no_reference), dpo::ConfigError);
  EXPECT_THROW(dpo::preference_loss(config(LossType::Sigmoid, 0.5), logps({-5, -1}, {-7}, {-6, -1}, {-6})),
               dpo::ConfigError);
  EXPECT_THROW(dpo::preference_loss(config(LossType::Kto, 0.5), golden()), dpo::ConfigError);
  auto robust = config(LossType::Robust, 0.5);
  robust.label_smoothing = 0.5;
  EXPECT_THROW(dpo::preference_loss(robust, golden()), dpo::ConfigError);
  EXPECT_THROW(dpo::preference_loss(config(LossType::Sigmoid, 0.0), golden()), dpo::ConfigError);
}

TEST(LossOutputs, SigmoidGradientWeightIsMisrankingWeight) {
  // Seed 002 §5: σ(r_l − r_w) = σ(−βh); golden pair at β = 0.5: σ(−1) = 0.2689414213699951
  auto out = dpo::preference_loss(config(LossType::Sigmoid, 0.5), golden());
  EXPECT_NEAR(out.gradient_weight[0].item<double>(), 0.2689414213699951, 1e-15);
  // IPO short of its target (β = 0.1: h̄ = 0.75 < 1/(2β) = 5) pushes up (> 0); past it (β = 1: target 0.5)
  // it pulls back (< 0).
  EXPECT_GT(dpo::preference_loss(config(LossType::Ipo, 0.1), golden()).gradient_weight[0].item<double>(), 0);
  EXPECT_LT(dpo::preference_loss(config(LossType::Ipo, 1.0), golden()).gradient_weight[0].item<double>(), 0);
}

TEST(LossOutputs, GradientWeightUnderNoGrad) {
  // The evaluator calls the loss under NoGradGuard; the weight is still computed.
  torch::NoGradGuard no_grad;
  auto out = dpo::preference_loss(config(LossType::Sigmoid, 0.5), golden());
  EXPECT_NEAR(out.gradient_weight[0].item<double>(), sigmoid(-1.0), 1e-15);
  EXPECT_FALSE(out.losses.requires_grad());
}

TEST(LossTable, EveryEntryParsesByItsName) {
  std::set<std::string_view> names;
  for (const auto& info : dpo::loss_table()) {
    EXPECT_TRUE(names.insert(info.name).second) << info.name;
    ASSERT_TRUE(dpo::parse_loss_type(info.name).has_value()) << info.name;
    EXPECT_EQ(*dpo::parse_loss_type(info.name), info.type);
    EXPECT_FALSE(info.formula.empty());
  }
  EXPECT_EQ(names.size(), 23u);
  for (const char* name :
       {"robust", "ipo", "hinge", "margin", "rdpo-length", "simpo", "orpo", "cpo", "kto", "bco_pair",
        "nca_pair", "exo_pair", "sppo_hard", "apo_zero", "apo_down", "discopop"})
    EXPECT_TRUE(names.count(name)) << name;
  EXPECT_FALSE(dpo::loss_info(LossType::Kto).paired);
}
