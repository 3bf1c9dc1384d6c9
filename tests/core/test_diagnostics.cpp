// The diagnostics on synthetic metric series (each rule fires on a series built to show its
// symptom, and none fires on a healthy run) and on recorded runs (fixtures/diagnose, see its
// README): the demo's default runs raise no warning, the bad ones raise the right finding.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/diagnose/diagnostics.h"
#include "core/eval/preference_eval.h"

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

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// A recorded run: fixtures/diagnose/NAME/{metrics,eval,pairs}.jsonl and config.json, read as
// `dpo diagnose` reads a run folder; max_step cuts it to its first steps (the runs use a constant
// learning rate, so that is the shorter run).
DiagnoseInput recorded(const std::string& name, int64_t max_step = std::numeric_limits<int64_t>::max()) {
  const auto dir = std::filesystem::path(__FILE__).parent_path() / "fixtures/diagnose" / name;
  const auto lines = [&](const char* file) {
    std::vector<nlohmann::json> out;
    std::ifstream in(dir / file);
    std::string line;
    while (std::getline(in, line))
      if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    return out;
  };
  std::vector<StepMetrics> steps;
  for (const auto& j : lines("metrics.jsonl")) {
    StepMetrics m;
    from_json(j, m);
    if (m.step <= max_step) steps.push_back(m);
  }
  std::vector<dpo::PreferenceEval> evals;
  std::map<int64_t, size_t> counts;
  for (const auto& j : lines("eval.jsonl")) {
    dpo::PreferenceEval e;
    from_json(j, e);
    if (e.step > max_step) continue;
    evals.push_back(e);
    counts[e.step] = j.at("eval_pairs").get<size_t>();
  }
  for (const auto& j : lines("pairs.jsonl")) {
    dpo::PairRecord r;
    from_json(j, r);
    for (auto& e : evals)
      if (e.step == r.step) e.pairs.push_back(r);
  }
  std::ifstream config(dir / "config.json");
  const double beta = nlohmann::json::parse(config).at("beta").get<double>();
  auto in = dpo::diagnose::make_input(std::move(steps), beta, evals);
  for (auto& e : in.evals) e.pairs = counts.at(e.step);
  return in;
}

std::vector<std::string> warnings(const std::vector<Finding>& findings) {
  std::vector<std::string> out;
  for (const auto& f : findings)
    if (f.severity != Severity::Info) out.push_back(f.id);
  return out;
}

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
  EXPECT_FALSE(dpo::diagnose::explanation(f->id).empty());
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
  // −4·105.5/120 = −3.5167 and −7·105.5/120 = −6.1542, margin 0.1·3·105.5/120 = 0.26375:
  // 3.5167 / 0.26375 = 13.33 nats of chosen per unit of margin.
  EXPECT_TRUE(has(f->evidence,
                  "the chosen log-ratio is at -3.52 nats and the rejected at -6.15 (medians of "
                  "steps 91–120), both still falling (by 1.97 and 3.44 over steps 61–120)"))
      << f->evidence;
  EXPECT_TRUE(
      has(f->evidence, "for a reward margin of 0.264: 13.3 nats of chosen log-ratio per unit of margin"))
      << f->evidence;
  EXPECT_FALSE(find(findings, "beta_too_high"));
}

TEST(Diagnose, BothLogRatiosFallingCheaplyIsNormal) {
  auto in = healthy_run();
  // Chosen −1.5·t, rejected −12·t nats: at step 105.5 chosen −1.32 for a margin of 0.92, 1.4 nats per
  // unit of margin, the pattern of the demo's default runs.
  for (auto& m : in.steps) {
    const double t = static_cast<double>(m.step) / kSteps;
    m.rewards_chosen = kBeta * (-1.5 * t);
    m.rewards_rejected = kBeta * (-12.0 * t);
    m.rewards_margins = m.rewards_chosen - m.rewards_rejected;
    m.loss = std::log1p(std::exp(-m.rewards_margins));
  }
  EXPECT_FALSE(find(dpo::diagnose::diagnose(in), "beta_too_low"));
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

// --- recorded runs ----------------------------------------------------------------------------

// `dpo train` on the embedded demo at the defaults (200 steps, lr 1e-4, batch 8, eval every 25)
// at β 0.1, 0.3 and 0.5, and the first 100 steps of the β 0.1 run. Before these rules were fixed
// all four raised "β may be too low" and three "chosen answers less likely".
TEST(DiagnoseRecorded, DefaultDemoRunsRaiseNoWarning) {
  for (const auto& [name, max_step] : std::vector<std::pair<std::string, int64_t>>{
           {"default_b0.1", 200}, {"default_b0.1", 100}, {"default_b0.3", 200}, {"default_b0.5", 200}}) {
    const auto in = recorded(name, max_step);
    ASSERT_EQ(in.steps.size(), static_cast<size_t>(max_step)) << name;
    ASSERT_EQ(in.evals.size(), static_cast<size_t>(max_step / 25)) << name;
    const auto findings = dpo::diagnose::diagnose(in);
    EXPECT_TRUE(warnings(findings).empty()) << name << " " << max_step << ": " << ids(findings);
    // The one note is true of the demo: its chosen answers are longer.
    double chosen = 0, rejected = 0;
    for (const auto& m : in.steps) chosen += m.length_chosen, rejected += m.length_rejected;
    ASSERT_EQ(findings.size(), 1u) << ids(findings);
    EXPECT_EQ(findings[0].id, "length_bias_in_data");
    EXPECT_TRUE(has(findings[0].evidence, "(" + fmt("%.2f", chosen / rejected) + "×)"))
        << findings[0].evidence;
  }
}

// Both log-ratios falling is normal on the demo; what makes it β too low is the price: nats of
// chosen log-ratio per unit of reward margin, computed here from the last quarter of the steps.
double chosen_nats_per_margin(const DiagnoseInput& in) {
  const size_t tail = std::max<size_t>(10, (in.steps.size() + 3) / 4);
  std::vector<double> chosen, margin;
  for (size_t i = in.steps.size() - tail; i < in.steps.size(); ++i) {
    chosen.push_back(in.steps[i].rewards_chosen / in.beta);
    margin.push_back(in.steps[i].rewards_margins);
  }
  return -dpo::diagnose::median(chosen) / dpo::diagnose::median(margin);
}

TEST(DiagnoseRecorded, DefaultRunsPayLittleChosenForTheirMargin) {
  for (const char* name : {"default_b0.1", "default_b0.3", "default_b0.5"}) {
    const double price = chosen_nats_per_margin(recorded(name));
    EXPECT_GT(price, 0.0) << name;  // chosen does fall a little: normal, not a warning
    EXPECT_LT(price, dpo::diagnose::limits::kChosenNatsPerMargin / 2) << name;
  }
}

// β 0.001 with lr 1e-3 (200 steps), and lesson 3's β 0.01 with lr 3e-3 (150 steps).
TEST(DiagnoseRecorded, BetaTooLowRunsRaiseIt) {
  for (const char* name : {"beta0.001_lr1e-3", "lesson3_beta0.01_lr3e-3"}) {
    const auto in = recorded(name);
    const auto findings = dpo::diagnose::diagnose(in);
    const Finding* low = find(findings, "beta_too_low");
    ASSERT_TRUE(low) << name << ": " << ids(findings);
    const double price = chosen_nats_per_margin(in);
    EXPECT_GT(price, 5 * dpo::diagnose::limits::kChosenNatsPerMargin) << name;
    EXPECT_TRUE(has(low->evidence, fmt("%.3g", price) + " nats of chosen log-ratio per unit of margin"))
        << low->evidence;
    EXPECT_TRUE(find(findings, "chosen_logp_falling")) << name << ": " << ids(findings);
    EXPECT_FALSE(find(findings, "overfitting")) << name << ": " << ids(findings);
  }
}

// The default β 0.1 run continued to 600 steps: held-out accuracy falls from its best while the
// held-out chosen answers keep falling, although the training margin still looks fine.
TEST(DiagnoseRecorded, LongRunThatDegradesRaisesChosenFalling) {
  const auto in = recorded("long_600steps");
  const auto findings = dpo::diagnose::diagnose(in);
  EXPECT_EQ(warnings(findings), std::vector<std::string>{"chosen_logp_falling"}) << ids(findings);
  const Finding* f = find(findings, "chosen_logp_falling");
  ASSERT_TRUE(f);
  auto best = in.evals.begin();
  for (auto e = in.evals.begin(); e != in.evals.end(); ++e)
    if (e->accuracy > best->accuracy) best = e;
  const auto& last = in.evals.back();
  EXPECT_GE(best->accuracy - last.accuracy, dpo::diagnose::limits::kHeldOutAccuracyDrop);
  EXPECT_TRUE(has(f->evidence, "held-out accuracy fell from " + fmt("%.2f", best->accuracy) + " (step " +
                                   std::to_string(best->step) + ") to " + fmt("%.2f", last.accuracy) +
                                   " (step 600)"))
      << f->evidence;
  EXPECT_TRUE(
      has(f->evidence, "lost another " + fmt("%.2f", best->logps_chosen - last.logps_chosen) + " nats"))
      << f->evidence;
  EXPECT_EQ(f->step, 600);
  // The first 200 steps of the same run are the default run: silent.
  EXPECT_TRUE(warnings(dpo::diagnose::diagnose(recorded("long_600steps", 200))).empty());
}

// 28 training pairs, β 1, lr 1e-3, evaluated every 10 steps: the training loss drops to ~0 while
// the held-out loss climbs from its low at step 10 past ln 2.
TEST(DiagnoseRecorded, OverfittingRunIsNamed) {
  const auto in = recorded("overfit_40pairs_b1_lr1e-3");
  const auto findings = dpo::diagnose::diagnose(in);
  const Finding* f = find(findings, "overfitting");
  ASSERT_TRUE(f) << ids(findings);
  EXPECT_EQ(f->title, "Held-out loss is rising while training loss falls (overfitting)");
  const auto lowest = std::min_element(in.evals.begin(), in.evals.end(),
                                       [](const auto& a, const auto& b) { return a.loss < b.loss; });
  const auto& last = in.evals.back();
  EXPECT_LT(lowest->loss, std::log(2.0));
  EXPECT_GT(last.loss, std::log(2.0));
  EXPECT_TRUE(has(f->evidence, "held-out loss rose from " + fmt("%.3f", lowest->loss) + " (step " +
                                   std::to_string(lowest->step) + ", its lowest) to " +
                                   fmt("%.3f", last.loss) + " (step " + std::to_string(last.step) +
                                   "), past ln 2"))
      << f->evidence;
  EXPECT_TRUE(has(f->suggestion, "dpo rank --run DIR --select best")) << f->suggestion;
  EXPECT_TRUE(has(f->suggestion, "around step " + std::to_string(lowest->step))) << f->suggestion;
  EXPECT_EQ(f->step, last.step);
}

// --- overfitting on hand-made series ---------------------------------------------------------

DiagnoseInput with_evals(const std::vector<std::pair<int64_t, double>>& held_out_losses) {
  auto in = healthy_run();
  for (const auto& [step, loss] : held_out_losses) in.evals.push_back({step, loss, 0.8, -50.0, 26});
  return in;
}

TEST(Diagnose, OverfittingNeedsTheHeldOutLossPastLn2) {
  // Rising by 0.2 but still under ln 2: worse than before, yet better than the reference.
  EXPECT_FALSE(find(dpo::diagnose::diagnose(with_evals({{30, 0.45}, {60, 0.40}, {90, 0.50}, {120, 0.60}})),
                    "overfitting"));
  const auto findings =
      dpo::diagnose::diagnose(with_evals({{30, 0.45}, {60, 0.40}, {90, 0.60}, {120, 0.75}}));
  const Finding* f = find(findings, "overfitting");
  ASSERT_TRUE(f) << ids(findings);
  // Training loss log(1 + e^−margin): the median of steps 51–60 (at 55.5) against 91–120 (at 105.5).
  const auto train = [](double step) {
    const double t = step / kSteps;
    return std::log1p(std::exp(-kBeta * 8.5 * t));
  };
  EXPECT_TRUE(has(f->evidence, "held-out loss rose from 0.400 (step 60, its lowest) to 0.750 (step 120)"))
      << f->evidence;
  EXPECT_TRUE(has(f->evidence, "training loss fell from " + fmt("%.3f", train(55.5)).substr(0, 4)))
      << f->evidence;
  EXPECT_EQ(f->step, 120);
}

TEST(Diagnose, HeldOutLossPastLn2WithoutTrainingProgressIsNotOverfitting) {
  auto in = with_evals({{30, 0.60}, {60, 0.55}, {90, 0.70}, {120, 0.80}});
  for (auto& m : in.steps) m.loss = 0.5 + 0.002 * static_cast<double>(m.step);  // training loss rising too
  EXPECT_FALSE(find(dpo::diagnose::diagnose(in), "overfitting"));
  // Fewer than three evaluations: no trend.
  EXPECT_FALSE(find(dpo::diagnose::diagnose(with_evals({{60, 0.40}, {120, 0.90}})), "overfitting"));
}

// --- explanations ----------------------------------------------------------------------------

TEST(DiagnoseExplanations, EveryRuleHasOne) {
  const std::set<std::string> expected = {"non_finite",
                                          "beta_too_high",
                                          "beta_too_low",
                                          "chosen_logp_falling",
                                          "overfitting",
                                          "learning_rate_too_high",
                                          "accuracy_saturated_early",
                                          "bimodal_margins",
                                          "length_exploitation",
                                          "length_bias_in_data"};
  std::set<std::string> listed;
  for (const auto& rule : dpo::diagnose::rules()) {
    listed.insert(std::string(rule.id));
    EXPECT_FALSE(rule.name.empty()) << rule.id;
    EXPECT_EQ(dpo::diagnose::explanation(rule.id), rule.explanation);
    // A few paragraphs of plain words, none pointing at a chapter the user has not got.
    EXPECT_GE(std::count(rule.explanation.begin(), rule.explanation.end(), '\n'), 4) << rule.id;
    EXPECT_GT(rule.explanation.size(), 400u) << rule.id;
    EXPECT_EQ(rule.explanation.find("seed"), std::string_view::npos) << rule.id;
    EXPECT_EQ(rule.explanation.find("§"), std::string_view::npos) << rule.id;
  }
  EXPECT_EQ(listed, expected);
  EXPECT_TRUE(dpo::diagnose::explanation("no_such_rule").empty());
}

TEST(DiagnoseExplanations, EveryFindingHasOne) {
  // The recorded bad runs and the hand-made symptoms above between them raise every rule.
  std::set<std::string> seen;
  for (const char* name : {"beta0.001_lr1e-3", "long_600steps", "overfit_40pairs_b1_lr1e-3"})
    for (const auto& f : dpo::diagnose::diagnose(recorded(name))) seen.insert(f.id);
  for (const auto& id : seen) EXPECT_FALSE(dpo::diagnose::explanation(id).empty()) << id;
  EXPECT_TRUE(seen.count("overfitting") && seen.count("beta_too_low") && seen.count("chosen_logp_falling"));
}

TEST(Diagnose, MarginsClusteredNearZeroAreNotMislabelled) {
  auto in = healthy_run();
  // As in the demo's default run with split seed 3: 13 pairs learned (+4.4), 11 not moved (≈ 0).
  for (int k = 0; k < 13; ++k) in.pair_margins.push_back(4.4 + 0.3 * jitter(k, 1.0));
  for (int k = 0; k < 11; ++k) in.pair_margins.push_back(-0.01 + 0.05 * jitter(k, 1.0));
  for (int k = 0; k < 6; ++k) in.pair_margins.push_back(2.0 + 0.5 * jitter(k, 1.0));
  EXPECT_FALSE(find(dpo::diagnose::diagnose(in), "bimodal_margins"));
}
