#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/train/losses.h"

using dpo::LossConfig;
using dpo::PreferenceLogps;

namespace {
PreferenceLogps logps(std::vector<double> pc, std::vector<double> pr, std::vector<double> rc,
                      std::vector<double> rr) {
  auto t = [](const std::vector<double>& v) { return torch::tensor(v, torch::kFloat64); };
  return {t(pc), t(pr), t(rc), t(rr)};
}
}  // namespace

TEST(SigmoidLoss, AllLogRatiosZeroGiveLn2) {
  // π = π_ref on every pair: h = 0, loss = −log σ(0) = ln 2 whatever β is.
  for (double beta : {0.01, 0.1, 1.0, 10.0}) {
    auto out = dpo::preference_loss({dpo::LossType::Sigmoid, beta, 0.0},
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
  auto out = dpo::preference_loss({dpo::LossType::Sigmoid, 0.5, 0.0}, logps({-5}, {-7}, {-6}, {-6}));
  EXPECT_NEAR(out.losses[0].item<double>(), 0.31326168751822286, 1e-15);
  EXPECT_DOUBLE_EQ(out.chosen_rewards[0].item<double>(), 0.5);
  EXPECT_DOUBLE_EQ(out.rejected_rewards[0].item<double>(), -0.5);
}

TEST(SigmoidLoss, LabelSmoothingIsConservativeDpo) {
  // cDPO, ε = 0.1, β·h = 1: 0.9·log(1 + e^−1) + 0.1·log(1 + e^1)
  //   = 0.9·0.31326168751822286 + 0.1·1.3132616875182228 = 0.41326168751822285
  auto out = dpo::preference_loss({dpo::LossType::Sigmoid, 0.5, 0.1}, logps({-5}, {-7}, {-6}, {-6}));
  EXPECT_NEAR(out.losses[0].item<double>(), 0.41326168751822285, 1e-15);
}

TEST(SigmoidLoss, GradientIsBetaTimesMisrankingWeight) {
  // Seed 002 §5: ∂L/∂log π(y_w) = −β·σ(r_l − r_w), ∂L/∂log π(y_l) = +β·σ(r_l − r_w).
  const double beta = 0.3;
  auto pc = torch::tensor({-10.0, -3.0, -8.0, -20.0}, torch::kFloat64).requires_grad_(true);
  auto pr = torch::tensor({-12.0, -2.0, -8.5, -15.0}, torch::kFloat64).requires_grad_(true);
  auto rc = torch::tensor({-11.0, -3.5, -7.0, -19.0}, torch::kFloat64);
  auto rr = torch::tensor({-11.5, -2.5, -9.0, -16.0}, torch::kFloat64);
  auto out = dpo::preference_loss({dpo::LossType::Sigmoid, beta, 0.0}, {pc, pr, rc, rr});
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
    auto out = dpo::preference_loss({dpo::LossType::Sigmoid, 1.0, 0.0},
                                    {pc, torch::zeros({1}), torch::zeros({1}), torch::zeros({1})});
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
