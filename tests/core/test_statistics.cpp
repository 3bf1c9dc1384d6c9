// Bootstrap intervals, the paired bootstrap and Bradley–Terry (core/eval/statistics), checked by
// simulation against known answers and by hand (issue 14's tests).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/eval/statistics.h"
#include "core/runtime/error.h"

namespace {

using dpo::Comparison;

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

TEST(Bootstrap, IntervalOfAKnownSample) {
  const std::vector<double> outcomes = {1, 1, 0, 1, 1, 0, 1, 1};
  const auto ci = dpo::bootstrap_mean(outcomes, 0.95, 4000, 7);
  EXPECT_DOUBLE_EQ(ci.estimate, 0.75);
  // The binomial standard error is sqrt(.75 * .25 / 8) = 0.153; a 95% interval spans about ±0.3.
  EXPECT_GE(ci.lower, 0.375);
  EXPECT_LE(ci.lower, 0.5);
  EXPECT_DOUBLE_EQ(ci.upper, 1.0);
  const auto again = dpo::bootstrap_mean(outcomes, 0.95, 4000, 7);
  EXPECT_EQ(again.lower, ci.lower);  // seeded
  EXPECT_THROW(dpo::bootstrap_mean(outcomes, 1.5), dpo::ConfigError);
}

// 95% nominal: in 200 simulated evaluations of 200 pairs at a true accuracy of 0.7, the interval
// holds 0.7 in at least 90% of them.
TEST(Bootstrap, CoversTheTrueAccuracyInSimulation) {
  std::mt19937_64 rng(2026);
  std::bernoulli_distribution correct(0.7);
  int covered = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<double> outcomes(200);
    for (auto& o : outcomes) o = correct(rng) ? 1.0 : 0.0;
    const auto ci = dpo::bootstrap_mean(outcomes, 0.95, 400, static_cast<uint64_t>(trial));
    covered += ci.lower <= 0.7 && 0.7 <= ci.upper;
  }
  EXPECT_GE(covered, 180) << covered << " of 200";
  EXPECT_LE(covered, 199) << "intervals too wide to be 95%";
}

TEST(PairedBootstrap, TellsARealGapFromNoise) {
  std::mt19937_64 rng(1);
  std::bernoulli_distribution base(0.6), flip(0.15);
  std::vector<double> a(600), b(600), same(600);
  for (size_t i = 0; i < a.size(); ++i) {
    b[i] = base(rng) ? 1 : 0;
    a[i] = b[i] == 0 && flip(rng) ? 1 : b[i];  // a fixes 15% of b's mistakes, breaks none
    same[i] = b[i];
  }
  const auto gap = dpo::paired_bootstrap(a, b, 0.95, 2000, 3);
  EXPECT_GT(gap.difference.estimate, 0.03);
  EXPECT_GT(gap.difference.lower, 0.0);
  EXPECT_LT(gap.p_value, 0.01);
  const auto none = dpo::paired_bootstrap(same, b);
  EXPECT_EQ(none.difference.estimate, 0.0);
  EXPECT_EQ(none.p_value, 1.0);
  EXPECT_THROW(dpo::paired_bootstrap(a, std::vector<double>(3)), dpo::ConfigError);
}

// By hand: model 1 beat model 0 in 3 of 4 games, so σ(s1 − s0) = 3/4 and s1 − s0 = ln 3.
TEST(BradleyTerry, TwoModelsByHand) {
  std::vector<Comparison> games = {{1, 0, 1}, {1, 0, 1}, {0, 1, 0}, {0, 1, 1}};
  const auto fit = dpo::fit_bradley_terry(2, games);
  EXPECT_NEAR(fit.strength[1] - fit.strength[0], std::log(3.0), 1e-4);
  EXPECT_NEAR(fit.strength[0] + fit.strength[1], 0.0, 1e-12);
  // Ties are half a win each way: always tying means equal strength.
  const auto ties = dpo::fit_bradley_terry(2, {{0, 1, 0.5}, {1, 0, 0.5}, {0, 1, 0.5}});
  EXPECT_NEAR(ties.strength[0], 0.0, 1e-9);
  EXPECT_THROW(dpo::fit_bradley_terry(2, {{0, 0, 1}}), dpo::ConfigError);
}

std::vector<Comparison> simulate(const std::vector<double>& strength, double gamma, int games,
                                 uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, strength.size() - 1);
  std::normal_distribution<double> length(0.0, 1.0);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<Comparison> out;
  while (static_cast<int>(out.size()) < games) {
    const size_t i = pick(rng), j = pick(rng);
    if (i == j) continue;
    const double x = gamma != 0 ? length(rng) : 0.0;
    out.push_back({i, j, u(rng) < sigmoid(strength[i] - strength[j] + gamma * x) ? 1.0 : 0.0, x});
  }
  return out;
}

TEST(BradleyTerry, RecoversKnownStrengths) {
  const std::vector<double> truth = {-1.0, -0.3, 0.4, 0.9};  // centred
  const auto fit = dpo::fit_bradley_terry(4, simulate(truth, 0, 6000, 11));
  for (size_t i = 0; i < truth.size(); ++i) EXPECT_NEAR(fit.strength[i], truth[i], 0.12) << i;
}

// Length control: when longer answers also win, the covariate takes that share and the strengths
// stay the models' own.
TEST(BradleyTerry, LengthCovariateIsSeparatedFromStrength) {
  const std::vector<double> truth = {-0.5, 0.0, 0.5};
  const auto games = simulate(truth, 0.8, 6000, 5);
  const auto fit = dpo::fit_bradley_terry(3, games, /*fit_covariate=*/true);
  EXPECT_NEAR(fit.covariate_weight, 0.8, 0.1);
  for (size_t i = 0; i < truth.size(); ++i) EXPECT_NEAR(fit.strength[i], truth[i], 0.12) << i;
}

TEST(BradleyTerry, RanksByNonOverlappingIntervals) {
  const auto ranked =
      dpo::rank_bradley_terry(4, simulate({-2.0, 0.0, 0.02, 2.0}, 0, 3000, 9), false, 0.95, 200, 1);
  EXPECT_EQ(ranked[3].rank, 1);
  EXPECT_EQ(ranked[0].rank, 4);
  // 1 and 2 are nearly equal: neither's interval clears the other's, so they share rank 2.
  EXPECT_EQ(ranked[1].rank, 2);
  EXPECT_EQ(ranked[2].rank, 2);
  for (const auto& m : ranked) {
    EXPECT_LE(m.strength.lower, m.strength.estimate);
    EXPECT_GE(m.strength.upper, m.strength.estimate);
  }
}

}  // namespace
