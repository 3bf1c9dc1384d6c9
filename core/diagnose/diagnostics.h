#pragma once
// Rules that turn a DPO metric stream into plain-language findings, each with an explanation a
// user can read. Pure functions: no torch, no Qt, no I/O; the CLI prints the findings and the
// studio renders them.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/train/metrics.h"
#include "core/types/eval_records.h"

namespace dpo::diagnose {

enum class Severity { Info, Warning, Error };
const char* severity_name(Severity s);  // "info", "warning", "error"

struct Finding {
  std::string id;  // stable key, e.g. "beta_too_high"
  Severity severity = Severity::Info;
  std::string title;       // the symptom in plain words
  std::string evidence;    // numbers measured from the series
  std::string meaning;     // what it likely means
  std::string suggestion;  // what to try; explanation(id) says why, at length
  int64_t step = 0;        // the step the evidence points at (0: the run as a whole)
};

// One response sampled from the policy on held-out prompts at a training step.
struct SampledLength {
  int64_t step = 0;
  double tokens = 0;  // mean sampled response length at that step
};

// One evaluation on the held-out pairs: means over the pairs (eval.jsonl, PreferenceEval).
struct HeldOutEval {
  int64_t step = 0;
  double loss = 0;
  double accuracy = 0;
  double logps_chosen = 0;  // mean log π(y_w); its change on fixed pairs is the log-ratio's change
  size_t pairs = 0;         // held-out pairs scored (0: unknown)
};

struct DiagnoseInput {
  std::vector<StepMetrics> steps;              // in step order
  double beta = 0.1;                           // of the run: log-ratio = reward / β
  std::vector<double> pair_margins;            // optional: latest reward margin of each eval pair
  std::vector<SampledLength> sampled_lengths;  // optional
  std::vector<HeldOutEval> evals;              // optional, in step order
};

// The input from a run's records and its evaluations (which add the latest per-pair margins, the
// sampled lengths and the held-out series).
DiagnoseInput make_input(std::vector<StepMetrics> steps, double beta,
                         const std::vector<PreferenceEval>& evals);

// The thresholds, named so the tests and the docs can point at them.
namespace limits {
inline constexpr size_t kMinStepsForTrend = 20;  // fewer steps: no trend rules
inline constexpr double kTailShare = 0.25;       // "late in the run" = the last quarter of steps
inline constexpr size_t kMinTailSteps = 10;
// β too high: margin and loss both where they started.
inline constexpr size_t kMinStepsBetaTooHigh = 30;
inline constexpr double kFlatMargin = 0.01;        // |median margin| below this, in reward units
inline constexpr double kFlatLossFromLn2 = 0.005;  // |median loss − ln 2| below this
// β too low / chosen falling: fitted fall over the second half of the run, in nats.
inline constexpr double kLogratioFall = 0.5;
inline constexpr double kChosenLogpFall = 1.0;
inline constexpr double kChosenLogpRelativeFall = 0.05;  // or 5 % of |log π(y_w)| at the start
// A falling chosen log-probability is normal DPO: the margin is mostly won by pushing rejected
// down, and chosen drifts down a little with it. It is a problem only when it is expensive, i.e.
// nats of chosen log-probability lost per unit of reward margin gained. Recorded demo runs
// (tests/core/fixtures/diagnose) at β 0.1–0.5, 100–200 steps, lr 1e-4 pay 0.2–1.9 (whole run
// and second half alike); β 0.001 pays 56–165, β 0.01 at lr 3e-3 (lesson 3) 41–68. At β 0.1, 5
// means the chosen log-ratio falls half as far as the log-ratio gap opens: both answers
// collapse, rejected only a little faster, the seed chapter's picture of β too low.
inline constexpr double kChosenNatsPerMargin = 5.0;
// Or when it stops paying on held-out pairs: held-out accuracy down from its best by at least
// 0.10 and 2 pairs (the demo's default runs wobble by up to 3 of 26 pairs, 0.12, but lose at
// most 1.5 nats of chosen while doing so), while the held-out chosen answers lost at least
// 5 nats since that best evaluation (e^5 ≈ 150 times less likely; default runs: under 4).
inline constexpr double kHeldOutAccuracyDrop = 0.10;
inline constexpr double kHeldOutPairsLost = 2.0;
inline constexpr double kHeldOutChosenFall = 5.0;
// Overfitting: the held-out loss ends above ln 2 (worse than the untrained reference, which
// scores exactly ln 2) and at least this far above its lowest, while the training loss fell.
// Default demo runs end with held-out losses of 0.13–0.43 and rise at most 0.03 from their low.
inline constexpr size_t kMinEvalsForOverfitting = 3;
inline constexpr double kHeldOutLossRise = 0.05;
// Length: sampled length rising with the margin; chosen much longer than rejected in the data.
inline constexpr size_t kMinLengthSamples = 5;
inline constexpr double kSampledLengthRise = 0.20;  // fitted rise, share of the first length
inline constexpr double kLengthMarginCorrelation = 0.6;
inline constexpr double kDataLengthRatio = 1.2;  // mean chosen / mean rejected length
// Accuracy saturating early.
inline constexpr double kSaturatedAccuracy = 0.95;
inline constexpr double kEarlyShare = 0.20;
inline constexpr double kStaysSaturated = 0.90;  // median accuracy of the steps after
// Bimodal margins: a 2-means split with clearly separated clusters (Ashman's D).
inline constexpr size_t kMinPairsForHistogram = 20;
inline constexpr double kMinClusterShare = 0.10;
inline constexpr double kBimodalAshmanD = 2.0;
// The low cluster must sit clearly below zero (mean under −0.25 × the high cluster's): flipped
// labels, once learned, give margins as negative as the right ones are positive. A cluster near 0
// is pairs the policy has not moved, which the demo's default runs show with other split seeds
// (−0.01 to −0.19 against +4.4 to +7.5): pairs it cannot tell apart, not labels it contradicts.
inline constexpr double kMisrankedClusterDepth = 0.25;
// Loss spikes: robust z-score of step-to-step loss changes (median, 1.4826·MAD).
inline constexpr double kSpikeZ = 6.0;
inline constexpr size_t kMinSpikes = 2;
}  // namespace limits

// Every rule over the input; findings sorted by severity (errors first), then by rule order.
std::vector<Finding> diagnose(const DiagnoseInput& input);

// What each rule watches, in plain words: shown behind "What does this mean?" in the studio and
// by `dpo diagnose --explain ID`.
struct Rule {
  std::string_view id;
  std::string_view name;         // short, e.g. "β too low"
  std::string_view explanation;  // a few paragraphs separated by blank lines
};
const std::vector<Rule>& rules();  // in the order diagnose() runs them
// The explanation of a rule id; empty for an unknown id.
std::string_view explanation(std::string_view id);

// Statistics the rules are built on, exposed for tests.
double least_squares_slope(const std::vector<double>& x, const std::vector<double>& y);
double median(std::vector<double> values);
double median_absolute_deviation(const std::vector<double>& values);
double pearson_correlation(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace dpo::diagnose
