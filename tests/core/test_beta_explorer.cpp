#include <gtest/gtest.h>

#include <cmath>

#include "core/eval/beta_explorer.h"
#include "core/runtime/error.h"

namespace {
// Four pairs with h = a − b = 2, 0, −1, 6.
std::vector<dpo::PairRecord> four_pairs() {
  std::vector<dpo::PairRecord> pairs(4);
  const double a[] = {1, 0, -0.5, 3}, b[] = {-1, 0, 0.5, -3};
  for (size_t i = 0; i < 4; ++i) {
    pairs[i].logratio_chosen = a[i];
    pairs[i].logratio_rejected = b[i];
    pairs[i].length_chosen = 3;
    pairs[i].length_rejected = 4;
  }
  return pairs;
}
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
}  // namespace

TEST(BetaExplorer, SigmoidWeightsAreMisrankingProbabilities) {
  dpo::BetaExplorerOptions o;
  o.betas = {0.1, 1.0};
  o.bins = 2;
  const auto cells = dpo::explore_betas(four_pairs(), o);
  ASSERT_EQ(cells.size(), 2u);
  // β = 1: w = σ(−βh) = σ(−2), σ(0), σ(1), σ(−6) = 0.1192…, 0.5, 0.7311…, 0.0025…
  const auto& one = cells[1];
  EXPECT_EQ(one.beta, 1.0);
  EXPECT_NEAR(one.mean_weight, 0.33818353095218934, 1e-12);
  EXPECT_NEAR(one.median_weight, sigmoid(-2), 1e-12);  // the lower median of four
  // A fresh pair pulls with σ(0) = 0.5; below 10% of that (0.05) only σ(−6).
  EXPECT_DOUBLE_EQ(one.saturated, 0.25);
  EXPECT_DOUBLE_EQ(one.accuracy, 0.5);  // h > 0 on two pairs; the tie is wrong
  EXPECT_NEAR(
      one.mean_loss,
      (std::log1p(std::exp(-2.0)) + std::log(2.0) + std::log1p(std::exp(1.0)) + std::log1p(std::exp(-6.0))) /
          4,
      1e-12);
  // β = 0.1: σ(−0.2), 0.5, σ(0.1), σ(−0.6); nothing saturated.
  EXPECT_NEAR(cells[0].mean_weight, (sigmoid(-0.2) + 0.5 + sigmoid(0.1) + sigmoid(-0.6)) / 4, 1e-12);
  EXPECT_EQ(cells[0].saturated, 0.0);
  // One pair of edges for the row: [σ(−6), σ(1)], two bins split at 0.3667.
  EXPECT_NEAR(one.lower, sigmoid(-6), 1e-12);
  EXPECT_NEAR(cells[0].upper, sigmoid(1), 1e-12);
  EXPECT_EQ(one.histogram, (std::vector<size_t>{2, 2}));
  EXPECT_EQ(cells[0].histogram, (std::vector<size_t>{1, 3}));
}

TEST(BetaExplorer, HingeSaturatesPastItsMargin) {
  // max(0, 1 − βh): weight 1 while βh < 1, else 0; β = 1 → pairs with h = 2 and 6 are done.
  dpo::BetaExplorerOptions o;
  o.betas = {1.0};
  o.losses = {dpo::LossType::Hinge};
  const auto cells = dpo::explore_betas(four_pairs(), o);
  ASSERT_EQ(cells.size(), 1u);
  EXPECT_EQ(cells[0].loss, dpo::LossType::Hinge);
  EXPECT_DOUBLE_EQ(cells[0].saturated, 0.5);
  EXPECT_DOUBLE_EQ(cells[0].mean_weight, 0.5);
}

TEST(BetaExplorer, RefusesWhatItCannotCompute) {
  dpo::BetaExplorerOptions o;
  o.losses = {dpo::LossType::Simpo};
  EXPECT_THROW(dpo::explore_betas(four_pairs(), o), dpo::ConfigError);
  o.losses = {dpo::LossType::Sigmoid};
  EXPECT_THROW(dpo::explore_betas({}, o), dpo::ConfigError);
  o.betas = {0.1, -1};
  EXPECT_THROW(dpo::explore_betas(four_pairs(), o), dpo::ConfigError);
}
