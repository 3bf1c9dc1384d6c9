#pragma once
// Rules that turn a DPO metric stream into plain-language findings (seed 002 §10). Pure functions:
// no torch, no Qt, no I/O; the CLI prints the findings and the studio renders them.
#include <cstdint>
#include <string>
#include <vector>

#include "core/train/metrics.h"

namespace dpo::diagnose {

enum class Severity { Info, Warning, Error };
const char* severity_name(Severity s);  // "info", "warning", "error"

struct Finding {
  std::string id;  // stable key, e.g. "beta_too_high"
  Severity severity = Severity::Info;
  std::string title;       // the symptom in plain words
  std::string evidence;    // numbers measured from the series
  std::string meaning;     // what it likely means
  std::string suggestion;  // what to try
  std::string reference = "seed 002 §10";
  int64_t step = 0;  // the step the evidence points at (0: the run as a whole)
};

// One response sampled from the policy on held-out prompts at a training step.
struct SampledLength {
  int64_t step = 0;
  double tokens = 0;  // mean sampled response length at that step
};

struct DiagnoseInput {
  std::vector<StepMetrics> steps;              // in step order
  double beta = 0.1;                           // of the run: log-ratio = reward / β
  std::vector<double> pair_margins;            // optional: latest reward margin of each eval pair
  std::vector<SampledLength> sampled_lengths;  // optional
};

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
// Loss spikes: robust z-score of step-to-step loss changes (median, 1.4826·MAD).
inline constexpr double kSpikeZ = 6.0;
inline constexpr size_t kMinSpikes = 2;
}  // namespace limits

// Every rule over the input; findings sorted by severity (errors first), then by rule order.
std::vector<Finding> diagnose(const DiagnoseInput& input);

// Statistics the rules are built on, exposed for tests.
double least_squares_slope(const std::vector<double>& x, const std::vector<double>& y);
double median(std::vector<double> values);
double median_absolute_deviation(const std::vector<double>& values);
double pearson_correlation(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace dpo::diagnose
