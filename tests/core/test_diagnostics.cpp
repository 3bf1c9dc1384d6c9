// The §10 diagnostics on synthetic metric series: each rule fires on a series built to show its
// symptom, and none fires on a healthy run.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/diagnose/diagnostics.h"

namespace {

using dpo::StepMetrics;
using dpo::diagnose::DiagnoseInput;
using dpo::diagnose::Finding;
using dpo::diagnose::Severity;

constexpr int kSteps = 120;
constexpr double kBeta = 0.1;

// Bounded, deterministic jitter in [−a, a].
double jitter(int i, double a) { return a * (static_cast<double>((i * 37) % 17) / 8.0 - 1.0); }

// A run that learns: chosen log-ratio drifts up a little, rejected falls, the margin rises, the
// loss falls from ln 2, accuracy climbs gradually from 0.5 to 0.9.
StepMetrics healthy_step(int i) {
  const double t = static_cast<double>(i) / kSteps;
  StepMetrics m;
  m.step = i;
  const double chosen = 0.5 * t, rejected = -8.0 * t;  // log-ratios, nats
  m.rewards_chosen = kBeta * chosen;
  m.rewards_rejected = kBeta * rejected;
  m.rewards_margins = m.rewards_chosen - m.rewards_rejected;
  m.loss = std::log1p(std::exp(-m.rewards_margins)) + jitter(i, 0.01);
  m.rewards_accuracies = 0.5 + 0.4 * t;
  m.logps_chosen = -50.0 + chosen;
  m.logps_rejected = -55.0 + rejected;
  m.length_chosen = 30;
  m.length_rejected = 29;
  m.learning_rate = 5e-6;
  m.grad_norm = 1.0;
  m.tokens = 1000 * i;
  return m;
}

DiagnoseInput healthy_run() {
  DiagnoseInput in;
  in.beta = kBeta;
  for (int i = 1; i <= kSteps; ++i) in.steps.push_back(healthy_step(i));
  return in;
}

const Finding* find(const std::vector<Finding>& findings, const std::string& id) {
  for (const auto& f : findings)
    if (f.id == id) return &f;
  return nullptr;
}

std::string ids(const std::vector<Finding>& findings) {
  std::string s;
  for (const auto& f : findings) s += f.id + " (" + f.evidence + ") ";
  return s;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST(DiagnoseStatistics, SlopeMedianMadCorrelation) {
  using namespace dpo::diagnose;
  EXPECT_DOUBLE_EQ(least_squares_slope({0, 1, 2, 3}, {1, 4, 7, 10}), 3.0);
  // y = {0, 2, 1, 3}: x̄ = 1.5, ȳ = 1.5, Σ(x−x̄)(y−ȳ) = 2.25+(−0.25)+(−0.25)+2.25 = 4, Σ(x−x̄)² = 5
  EXPECT_DOUBLE_EQ(least_squares_slope({0, 1, 2, 3}, {0, 2, 1, 3}), 4.0 / 5.0);
  EXPECT_DOUBLE_EQ(median({3, 1, 2, 10}), 2.5);
  EXPECT_DOUBLE_EQ(median({5, 1, 3}), 3.0);
  // median 3; deviations {2, 1, 0, 1, 97} → median 1
  EXPECT_DOUBLE_EQ(median_absolute_deviation({1, 2, 3, 4, 100}), 1.0);
  EXPECT_DOUBLE_EQ(pearson_correlation({1, 2, 3}, {2, 4, 6}), 1.0);
  EXPECT_DOUBLE_EQ(pearson_correlation({1, 2, 3}, {6, 4, 2}), -1.0);
  // dx = {−1, 0, 1}, dy = {−1, 1, 0}: Σdx·dy = 1, Σdx² = Σdy² = 2 → 1/√(2·2)
  EXPECT_DOUBLE_EQ(pearson_correlation({1, 2, 3}, {1, 3, 2}), 0.5);
}

TEST(Diagnose, HealthyRunIsAllClear) {
  auto in = healthy_run();
  // Flat sampled lengths and unimodal margins: nothing to report there either.
  for (int s = 10; s <= kSteps; s += 10) in.sampled_lengths.push_back({s, 40.0 + jitter(s, 1.0)});
  std::mt19937 rng(11);
  std::normal_distribution<double> normal(0.8, 0.6);
  for (int k = 0; k < 200; ++k) in.pair_margins.push_back(normal(rng));
  const auto findings = dpo::diagnose::diagnose(in);
  EXPECT_TRUE(findings.empty()) << ids(findings);
}

TEST(Diagnose, TooFewStepsForTrends) {
  auto in = healthy_run();
  in.steps.resize(10);
  for (auto& m : in.steps)
    m.rewards_chosen = m.rewards_rejected = m.rewards_margins = 0, m.loss = std::log(2.0);
  EXPECT_TRUE(dpo::diagnose::diagnose(in).empty());
}

TEST(Diagnose, BetaTooHighWhenMarginStaysAtZeroAndLossAtLn2) {
  DiagnoseInput in;
  in.beta = 2.0;
  for (int i = 1; i <= kSteps; ++i) {
    StepMetrics m = healthy_step(i);
    // The policy never leaves the reference: margins alternate 0.001 / 0.003, loss 0.6915 / 0.6925.
    m.rewards_chosen = i % 2 ? 0.0015 : 0.0005;
    m.rewards_rejected = i % 2 ? 0.0005 : -0.0025;
    m.rewards_margins = m.rewards_chosen - m.rewards_rejected;
    m.loss = i % 2 ? 0.6925 : 0.6915;
    m.rewards_accuracies = i % 2 ? 0.5 : 0.75;
    m.logps_chosen = -50;
    in.steps.push_back(m);
  }
  const auto findings = dpo::diagnose::diagnose(in);
  const Finding* f = find(findings, "beta_too_high");
  ASSERT_TRUE(f) << ids(findings);
  EXPECT_EQ(f->severity, Severity::Warning);
  // Medians of the last max(10, ⌈120·0.25⌉) = 30 steps (91–120): (0.001+0.003)/2, (0.6915+0.6925)/2.
  EXPECT_TRUE(has(f->evidence, "after 120 steps, margin 0.002 and loss 0.692 ≈ ln 2")) << f->evidence;
  EXPECT_TRUE(has(f->evidence, "steps 91–120, β = 2")) << f->evidence;
  EXPECT_EQ(f->reference, "seed 002 §10");
  EXPECT_EQ(f->step, 120);
  EXPECT_FALSE(find(findings, "learning_rate_too_high")) << ids(findings);  // alternation is not a spike
  EXPECT_EQ(findings.size(), 1u) << ids(findings);
}

TEST(Diagnose, BetaTooLowWhenBothLogRatiosFall) {
  auto in = healthy_run();
  for (auto& m : in.steps) {
    const double t = static_cast<double>(m.step) / kSteps;
    m.rewards_chosen = kBeta * (-4.0 * t);
    m.rewards_rejected = kBeta * (-7.0 * t);
    m.rewards_margins = m.rewards_chosen - m.rewards_rejected;
    m.loss = std::log1p(std::exp(-m.rewards_margins));
  }
  const auto findings = dpo::diagnose::diagnose(in);
  const Finding* f = find(findings, "beta_too_low");
  ASSERT_TRUE(f) << ids(findings);
  // Second half = steps 61–120 (59 steps wide); slopes −4/120 and −7/120 per step:
  // falls 4·59/120 = 1.9667 and 7·59/120 = 3.4417; medians of steps 91–120 at step 105.5:
  // −4·105.5/120 = −3.5167 and −7·105.5/120 = −6.1542.
  EXPECT_TRUE(has(f->evidence, "over steps 61–120 the chosen log-ratio fell by 1.97 nats (now -3.52)"))
      << f->evidence;
  EXPECT_TRUE(has(f->evidence, "rejected by 3.44 (now -6.15)")) << f->evidence;
  EXPECT_FALSE(find(findings, "beta_too_high"));
}

TEST(Diagnose, ChosenLogProbabilityFalling) {
  auto in = healthy_run();
  for (auto& m : in.steps) m.logps_chosen = -50.0 - 10.0 * static_cast<double>(m.step) / kSteps;
  const auto findings = dpo::diagnose::diagnose(in);
  ASSERT_EQ(findings.size(), 1u) << ids(findings);
  const Finding& f = findings[0];
  EXPECT_EQ(f.id, "chosen_logp_falling");
  // First max(3, 120/10) = 12 steps: median at step 6.5 → −50 − 10·6.5/120 = −50.5417.
  // Last 30 steps: median at 105.5 → −58.7917. Second half fall: 10·59/120 = 4.9167.
  EXPECT_TRUE(has(f.evidence, "from -50.54 (median of the first 12 steps) to -58.79 (last 30 steps)"))
      << f.evidence;
  EXPECT_TRUE(has(f.evidence, "steps 61–120: 4.92 nats")) << f.evidence;
}

TEST(Diagnose, LengthExploitationWhenSampledLengthRisesWithMargin) {
  auto in = healthy_run();
  for (int s = 10; s <= kSteps; s += 10) in.sampled_lengths.push_back({s, 40.0 + 30.0 * s / kSteps});
  const auto findings = dpo::diagnose::diagnose(in);
  ASSERT_EQ(findings.size(), 1u) << ids(findings);
  const Finding& f = findings[0];
  EXPECT_EQ(f.id, "length_exploitation");
  // 42.5 tokens at step 10, 70 at step 120: rise 27.5 / 42.5 = 64.7 %; length and margin are both
  // linear in the step, so the correlation is 1.
  EXPECT_TRUE(has(f.evidence, "from 42.5 to 70.0 tokens (fitted rise 65 %) over steps 10–120")) << f.evidence;
  EXPECT_TRUE(has(f.evidence, "correlation with the reward margin 1.00")) << f.evidence;
}

TEST(Diagnose, LengthBiasInTheData) {
  auto in = healthy_run();
  for (auto& m : in.steps) m.length_chosen = 45, m.length_rejected = 25;
  const auto findings = dpo::diagnose::diagnose(in);
  ASSERT_EQ(findings.size(), 1u) << ids(findings);
  EXPECT_EQ(findings[0].id, "length_bias_in_data");
  EXPECT_EQ(findings[0].severity, Severity::Info);
  EXPECT_TRUE(has(findings[0].evidence, "average 45.0 tokens and rejected 25.0 (1.80×)"))
      << findings[0].evidence;
}

TEST(Diagnose, AccuracySaturatingEarly) {
  auto in = healthy_run();
  for (auto& m : in.steps) m.rewards_accuracies = m.step <= 8 ? 0.6 : 1.0;
  const auto findings = dpo::diagnose::diagnose(in);
  ASSERT_EQ(findings.size(), 1u) << ids(findings);
  const Finding& f = findings[0];
  EXPECT_EQ(f.id, "accuracy_saturated_early");
  // Window max(5, 120/20) = 6 steps; the first all-1.0 window is steps 9–14; 14/120 = 11.7 %.
  EXPECT_TRUE(has(f.evidence, "averaged 1.00 over steps 9–14 (12 % of the 120 steps so far)")) << f.evidence;
  EXPECT_TRUE(has(f.suggestion, "IPO")) << f.suggestion;
  EXPECT_EQ(f.step, 14);
}

TEST(Diagnose, AccuracyReachingOneLateIsFine) {
  auto in = healthy_run();
  for (auto& m : in.steps) m.rewards_accuracies = m.step <= 60 ? 0.6 : 1.0;
  EXPECT_FALSE(find(dpo::diagnose::diagnose(in), "accuracy_saturated_early"));
}

TEST(Diagnose, BimodalMarginsSuggestNoisyLabels) {
  auto in = healthy_run();
  std::mt19937 rng(7);
  std::normal_distribution<double> right(2.0, 0.4), wrong(-1.5, 0.4);
  double right_sum = 0, wrong_sum = 0;
  for (int k = 0; k < 160; ++k) in.pair_margins.push_back(right(rng)), right_sum += in.pair_margins.back();
  for (int k = 0; k < 40; ++k) in.pair_margins.push_back(wrong(rng)), wrong_sum += in.pair_margins.back();
  // 3.5 apart at σ = 0.4: the clusters do not overlap, so the split is exactly 160 / 40.
  char right_mean[32], wrong_mean[32];
  std::snprintf(right_mean, sizeof right_mean, "%+.2f", right_sum / 160);
  std::snprintf(wrong_mean, sizeof wrong_mean, "%+.2f", wrong_sum / 40);
  const auto findings = dpo::diagnose::diagnose(in);
  ASSERT_EQ(findings.size(), 1u) << ids(findings);
  const Finding& f = findings[0];
  EXPECT_EQ(f.id, "bimodal_margins");
  EXPECT_TRUE(has(f.evidence, std::string("of 200 pairs, 160 (80 %) sit around margin ") + right_mean))
      << f.evidence;
  EXPECT_TRUE(has(f.evidence, std::string("and 40 (20 %) around ") + wrong_mean)) << f.evidence;
  EXPECT_TRUE(has(f.suggestion, "rDPO")) << f.suggestion;
}

TEST(Diagnose, UnimodalOrFlatMarginsAreNotBimodal) {
  auto in = healthy_run();
  // Evenly spread over [−2, 2]: any split gives a large separation, but there is no dip.
  for (int k = 0; k < 200; ++k) in.pair_margins.push_back(-2.0 + 4.0 * k / 199);
  EXPECT_FALSE(find(dpo::diagnose::diagnose(in), "bimodal_margins"));
}

TEST(Diagnose, NonFiniteValuesAreAnErrorAndListedFirst) {
  auto in = healthy_run();
  in.steps[36].loss = std::numeric_limits<double>::quiet_NaN();
  in.steps[36].grad_norm = std::numeric_limits<double>::infinity();
  in.steps[50].rewards_margins = std::numeric_limits<double>::quiet_NaN();
  for (auto& m : in.steps) m.length_chosen = 45, m.length_rejected = 25;  // plus an info finding
  const auto findings = dpo::diagnose::diagnose(in);
  ASSERT_EQ(findings.size(), 2u) << ids(findings);
  EXPECT_EQ(findings[0].id, "non_finite");
  EXPECT_EQ(findings[0].severity, Severity::Error);
  EXPECT_EQ(findings[0].evidence,
            "at step 37: loss = nan, grad_norm = inf; 2 of 120 steps have non-finite values");
  EXPECT_EQ(findings[0].step, 37);
  EXPECT_EQ(findings[1].id, "length_bias_in_data");
}

TEST(Diagnose, LossSpikesSuggestTheLearningRateIsTooHigh) {
  auto in = healthy_run();
  in.steps[39].loss += 0.5;  // steps 40 and 80
  in.steps[79].loss += 0.5;
  const auto findings = dpo::diagnose::diagnose(in);
  ASSERT_EQ(findings.size(), 1u) << ids(findings);
  const Finding& f = findings[0];
  EXPECT_EQ(f.id, "learning_rate_too_high");
  EXPECT_TRUE(has(f.evidence, "2 loss jumps more than 6 robust standard deviations")) << f.evidence;
  EXPECT_TRUE(has(f.evidence, "(steps 40, 80)")) << f.evidence;
  EXPECT_TRUE(f.step == 40 || f.step == 80);
  EXPECT_TRUE(has(f.evidence, "learning rate 5e-06")) << f.evidence;

  // One spike alone is noise.
  in.steps[79].loss -= 0.5;
  EXPECT_FALSE(find(dpo::diagnose::diagnose(in), "learning_rate_too_high"));
}

TEST(Diagnose, SeverityNames) {
  EXPECT_STREQ(dpo::diagnose::severity_name(Severity::Info), "info");
  EXPECT_STREQ(dpo::diagnose::severity_name(Severity::Warning), "warning");
  EXPECT_STREQ(dpo::diagnose::severity_name(Severity::Error), "error");
}
