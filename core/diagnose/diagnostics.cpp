#include "core/diagnose/diagnostics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>

namespace dpo::diagnose {

namespace {

constexpr double kLn2 = 0.69314718055994530942;

std::string num(double v, int significant = 3) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", significant, v);
  return buf;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string signed_fixed(double v, int decimals) { return (v >= 0 ? "+" : "") + fixed(v, decimals); }

std::string percent(double share) { return fixed(100.0 * share, 0) + " %"; }

bool all_finite(const StepMetrics& m) {
  for (double v :
       {m.loss, m.rewards_chosen, m.rewards_rejected, m.rewards_margins, m.rewards_accuracies, m.logps_chosen,
        m.logps_rejected, m.length_chosen, m.length_rejected, m.learning_rate, m.grad_norm})
    if (!std::isfinite(v)) return false;
  return true;
}

template <typename F>
std::vector<double> column(const std::vector<StepMetrics>& steps, size_t from, size_t to, F field) {
  std::vector<double> out;
  out.reserve(to - from);
  for (size_t i = from; i < to; ++i) out.push_back(field(steps[i]));
  return out;
}

std::vector<double> step_axis(const std::vector<StepMetrics>& steps, size_t from, size_t to) {
  return column(steps, from, to, [](const StepMetrics& m) { return static_cast<double>(m.step); });
}

size_t tail_size(size_t n) {
  const auto share = static_cast<size_t>(std::ceil(static_cast<double>(n) * limits::kTailShare));
  return std::min(n, std::max(limits::kMinTailSteps, share));
}

double mean(const std::vector<double>& v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

// Fitted change of y over the span of x: the slope times the width of the window.
double fitted_change(const std::vector<double>& x, const std::vector<double>& y) {
  return least_squares_slope(x, y) * (x.back() - x.front());
}

// --- the rules -------------------------------------------------------------------------------

void non_finite(const std::vector<StepMetrics>& steps, std::vector<Finding>& out) {
  const StepMetrics* first = nullptr;
  size_t bad = 0;
  for (const auto& m : steps) {
    if (all_finite(m)) continue;
    ++bad;
    if (!first) first = &m;
  }
  if (!first) return;
  const std::pair<const char*, double> fields[] = {{"loss", first->loss},
                                                   {"rewards/chosen", first->rewards_chosen},
                                                   {"rewards/rejected", first->rewards_rejected},
                                                   {"rewards/margins", first->rewards_margins},
                                                   {"rewards/accuracies", first->rewards_accuracies},
                                                   {"logps/chosen", first->logps_chosen},
                                                   {"logps/rejected", first->logps_rejected},
                                                   {"length/chosen", first->length_chosen},
                                                   {"length/rejected", first->length_rejected},
                                                   {"learning_rate", first->learning_rate},
                                                   {"grad_norm", first->grad_norm}};
  std::string names;
  for (const auto& [name, value] : fields)
    if (!std::isfinite(value)) names += (names.empty() ? "" : ", ") + std::string(name) + " = " + num(value);
  Finding f;
  f.id = "non_finite";
  f.severity = Severity::Error;
  f.title = "Non-finite values (NaN or infinity)";
  f.evidence = "at step " + std::to_string(first->step) + ": " + names + "; " + std::to_string(bad) + " of " +
               std::to_string(steps.size()) + " steps have non-finite values";
  f.meaning =
      "Training diverged numerically (an overflow, a log of zero, or weights blown up by too large an "
      "update); every step after this one is meaningless.";
  f.suggestion =
      "Stop the run. Lower the learning rate, keep gradient clipping on, check the data for empty "
      "responses, and prefer float32 or bfloat16 over float16.";
  f.step = first->step;
  out.push_back(f);
}

void beta_too_high(const std::vector<StepMetrics>& s, double beta, std::vector<Finding>& out) {
  if (s.size() < limits::kMinStepsBetaTooHigh) return;
  const size_t from = s.size() - tail_size(s.size());
  const double margin = median(column(s, from, s.size(), [](const auto& m) { return m.rewards_margins; }));
  const double loss = median(column(s, from, s.size(), [](const auto& m) { return m.loss; }));
  if (std::abs(margin) >= limits::kFlatMargin || std::abs(loss - kLn2) >= limits::kFlatLossFromLn2) return;
  Finding f;
  f.id = "beta_too_high";
  f.severity = Severity::Warning;
  f.title = "The reward margin is stuck at zero (β may be too high)";
  f.evidence = "after " + std::to_string(s.back().step) + " steps, margin " + num(margin, 2) + " and loss " +
               fixed(loss, 3) + " ≈ ln 2 = 0.693 (medians of steps " + std::to_string(s[from].step) + "–" +
               std::to_string(s.back().step) + ", β = " + num(beta) + ")";
  f.meaning =
      "DPO is not learning: the policy gives chosen and rejected answers the same implicit reward, as "
      "at the start. Seed 002 names β too high as the usual cause; a learning rate far too small, or "
      "pairs whose chosen and rejected barely differ, look the same.";
  f.suggestion =
      "Lower β (the typical range is 0.01–0.5; try 0.1 or half the current value), or raise the "
      "learning rate; check that chosen and rejected really differ in the data.";
  f.step = s.back().step;
  out.push_back(f);
}

void beta_too_low(const std::vector<StepMetrics>& s, double beta, std::vector<Finding>& out) {
  if (s.size() < limits::kMinStepsForTrend || !(beta > 0)) return;
  const size_t from = s.size() / 2;
  const auto x = step_axis(s, from, s.size());
  const auto chosen = column(s, from, s.size(), [&](const auto& m) { return m.rewards_chosen / beta; });
  const auto rejected = column(s, from, s.size(), [&](const auto& m) { return m.rewards_rejected / beta; });
  const double fall_chosen = fitted_change(x, chosen);
  const double fall_rejected = fitted_change(x, rejected);
  const size_t tail_from = s.size() - tail_size(s.size());
  const double now_chosen =
      median(column(s, tail_from, s.size(), [&](const auto& m) { return m.rewards_chosen / beta; }));
  const double now_rejected =
      median(column(s, tail_from, s.size(), [&](const auto& m) { return m.rewards_rejected / beta; }));
  if (!(fall_chosen < -limits::kLogratioFall && fall_rejected < -limits::kLogratioFall)) return;
  if (!(now_chosen < 0 && now_rejected < 0)) return;
  Finding f;
  f.id = "beta_too_low";
  f.severity = Severity::Warning;
  f.title = "Chosen and rejected log-ratios are both falling (β may be too low)";
  f.evidence = "over steps " + std::to_string(s[from].step) + "–" + std::to_string(s.back().step) +
               " the chosen log-ratio fell by " + fixed(-fall_chosen, 2) + " nats (now " +
               fixed(now_chosen, 2) + ") and the rejected by " + fixed(-fall_rejected, 2) + " (now " +
               fixed(now_rejected, 2) + "), β = " + num(beta);
  f.meaning =
      "The policy lowers the probability of chosen and rejected answers alike and wins the margin only "
      "because rejected falls faster: the early symptom of β too low. Left alone the policy drifts far "
      "from the reference and produces degenerate text.";
  f.suggestion =
      "Raise β (×2–5), lower the learning rate, or stop earlier; an SFT term on the chosen answers "
      "(RPO) holds them up.";
  f.step = s.back().step;
  out.push_back(f);
}

void chosen_logp_falling(const std::vector<StepMetrics>& s, std::vector<Finding>& out) {
  if (s.size() < limits::kMinStepsForTrend) return;
  const size_t head = std::max<size_t>(3, s.size() / 10);
  const double start = median(column(s, 0, head, [](const auto& m) { return m.logps_chosen; }));
  const size_t from = s.size() / 2;
  const double fall = fitted_change(step_axis(s, from, s.size()),
                                    column(s, from, s.size(), [](const auto& m) { return m.logps_chosen; }));
  const size_t tail_from = s.size() - tail_size(s.size());
  const double now = median(column(s, tail_from, s.size(), [](const auto& m) { return m.logps_chosen; }));
  const double threshold =
      std::max(limits::kChosenLogpFall, limits::kChosenLogpRelativeFall * std::abs(start));
  if (!(fall < -threshold && now < start)) return;
  Finding f;
  f.id = "chosen_logp_falling";
  f.severity = Severity::Warning;
  f.title = "The policy is making the chosen answers less likely";
  f.evidence = "log π(y_w) went from " + fixed(start, 2) + " (median of the first " + std::to_string(head) +
               " steps) to " + fixed(now, 2) + " (last " + std::to_string(s.size() - tail_from) +
               " steps); fitted fall over steps " + std::to_string(s[from].step) + "–" +
               std::to_string(s.back().step) + ": " + fixed(-fall, 2) + " nats";
  f.meaning =
      "The margin grows only because rejected answers fall faster (likelihood displacement). Preference "
      "accuracy can look fine while the outputs get worse.";
  f.suggestion = "Add an NLL/SFT term on the chosen answers (RPO), raise β, or lower the learning rate.";
  f.step = s.back().step;
  out.push_back(f);
}

void length_exploitation(const std::vector<StepMetrics>& s, const std::vector<SampledLength>& samples_in,
                         std::vector<Finding>& out) {
  if (samples_in.size() < limits::kMinLengthSamples || s.empty()) return;
  auto samples = samples_in;
  std::sort(samples.begin(), samples.end(), [](const auto& a, const auto& b) { return a.step < b.step; });
  std::vector<double> x, length, margin;
  for (const auto& sample : samples) {
    if (!std::isfinite(sample.tokens)) continue;
    // The margin of the latest step at or before the sample.
    auto it = std::upper_bound(s.begin(), s.end(), sample.step,
                               [](int64_t step, const StepMetrics& m) { return step < m.step; });
    if (it == s.begin()) continue;
    x.push_back(static_cast<double>(sample.step));
    length.push_back(sample.tokens);
    margin.push_back(std::prev(it)->rewards_margins);
  }
  if (x.size() < limits::kMinLengthSamples || !(length.front() > 0)) return;
  const double rise = fitted_change(x, length) / length.front();
  const double correlation = pearson_correlation(length, margin);
  if (!(rise >= limits::kSampledLengthRise && correlation >= limits::kLengthMarginCorrelation)) return;
  Finding f;
  f.id = "length_exploitation";
  f.severity = Severity::Warning;
  f.title = "Sampled responses get longer as the margin grows";
  f.evidence = "sampled length went from " + fixed(length.front(), 1) + " to " + fixed(length.back(), 1) +
               " tokens (fitted rise " + percent(rise) + ") over steps " +
               std::to_string(samples.front().step) + "–" + std::to_string(samples.back().step) +
               "; correlation with the reward margin " + fixed(correlation, 2);
  f.meaning =
      "Length is doing some of the work the preference signal was supposed to do: the policy will look "
      "good on a preference benchmark and worse in the wild.";
  f.suggestion = "Use a length-normalised loss (SimPO), length-controlled pairs, or stop earlier.";
  f.step = samples.back().step;
  out.push_back(f);
}

void length_bias_in_data(const std::vector<StepMetrics>& s, std::vector<Finding>& out) {
  if (s.empty()) return;
  const double chosen = mean(column(s, 0, s.size(), [](const auto& m) { return m.length_chosen; }));
  const double rejected = mean(column(s, 0, s.size(), [](const auto& m) { return m.length_rejected; }));
  if (!(chosen > 0 && rejected > 0)) return;
  const double ratio = chosen / rejected;
  const bool longer = ratio >= limits::kDataLengthRatio;
  if (!longer && !(1.0 / ratio >= limits::kDataLengthRatio)) return;
  Finding f;
  f.id = "length_bias_in_data";
  f.severity = Severity::Info;
  f.title = longer ? "Chosen answers are much longer than rejected ones in the data"
                   : "Chosen answers are much shorter than rejected ones in the data";
  f.evidence = "over " + std::to_string(s.size()) + " batches chosen responses average " + fixed(chosen, 1) +
               " tokens and rejected " + fixed(rejected, 1) + " (" + fixed(longer ? ratio : 1.0 / ratio, 2) +
               "×)";
  f.meaning = std::string(
                  "DPO's gradient follows the length difference when the data does not control for it: "
                  "the policy can learn that ") +
              (longer ? "longer" : "shorter") + " is better instead of what the labels mean.";
  f.suggestion =
      "Balance lengths in the pairs (dpo data stats shows the bias), or use a length-normalised loss "
      "(SimPO).";
  out.push_back(f);
}

void accuracy_saturated_early(const std::vector<StepMetrics>& s, std::vector<Finding>& out) {
  if (s.size() < limits::kMinStepsForTrend) return;
  const auto accuracy = column(s, 0, s.size(), [](const auto& m) { return m.rewards_accuracies; });
  const size_t k = std::max<size_t>(5, s.size() / 20);
  double window = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    window += accuracy[i];
    if (i >= k) window -= accuracy[i - k];
    if (i + 1 < k || window / static_cast<double>(k) < limits::kSaturatedAccuracy) continue;
    const double share = static_cast<double>(s[i].step) / static_cast<double>(s.back().step);
    if (share > limits::kEarlyShare || i + 1 >= s.size()) return;
    const double after =
        median(std::vector<double>(accuracy.begin() + static_cast<ptrdiff_t>(i) + 1, accuracy.end()));
    if (after < limits::kStaysSaturated) return;
    Finding f;
    f.id = "accuracy_saturated_early";
    f.severity = Severity::Warning;
    f.title = "Preference accuracy saturated early";
    f.evidence = "accuracy averaged " + fixed(window / static_cast<double>(k), 2) + " over steps " +
                 std::to_string(s[i + 1 - k].step) + "–" + std::to_string(s[i].step) + " (" + percent(share) +
                 " of the " + std::to_string(s.back().step) + " steps so far) and stayed there (median " +
                 fixed(after, 2) + " afterwards)";
    f.meaning =
        "The policy separates the training pairs almost at once: they are too easy, or the policy is "
        "becoming overconfident, pushing margins up with nothing left to learn.";
    f.suggestion =
        "Try IPO (a bounded margin target) or cDPO label smoothing (0.1); fewer epochs, a lower "
        "learning rate or harder pairs.";
    f.step = s[i].step;
    out.push_back(f);
    return;
  }
}

void bimodal_margins(const std::vector<double>& margins_in, std::vector<Finding>& out) {
  std::vector<double> m;
  for (double v : margins_in)
    if (std::isfinite(v)) m.push_back(v);
  const size_t n = m.size();
  if (n < limits::kMinPairsForHistogram) return;
  std::sort(m.begin(), m.end());
  // Otsu's split: the cut that maximises the between-cluster variance, each side ≥ 10 % of pairs.
  std::vector<double> prefix(n + 1, 0.0);
  for (size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + m[i];
  const auto min_side = static_cast<size_t>(std::ceil(limits::kMinClusterShare * static_cast<double>(n)));
  size_t best = 0;
  double best_score = -1;
  for (size_t k = min_side; k + min_side <= n; ++k) {
    const double w0 = static_cast<double>(k), w1 = static_cast<double>(n - k);
    const double mu0 = prefix[k] / w0, mu1 = (prefix[n] - prefix[k]) / w1;
    const double score = w0 * w1 * (mu1 - mu0) * (mu1 - mu0);
    if (score > best_score) best_score = score, best = k;
  }
  if (best == 0) return;
  const std::vector<double> low(m.begin(), m.begin() + static_cast<ptrdiff_t>(best));
  const std::vector<double> high(m.begin() + static_cast<ptrdiff_t>(best), m.end());
  const double mu0 = mean(low), mu1 = mean(high);
  auto variance = [](const std::vector<double>& v, double mu) {
    double s = 0;
    for (double x : v) s += (x - mu) * (x - mu);
    return s / static_cast<double>(v.size());
  };
  const double spread = std::sqrt(variance(low, mu0) + variance(high, mu1));
  const double ashman_d = spread > 0 ? std::sqrt(2.0) * (mu1 - mu0) / spread : INFINITY;
  // A dip: pairs per unit of margin near the midpoint vs near each cluster centre. Splitting a
  // single hump (or a flat spread) also gives a large D, but no dip.
  const double half_width = (mu1 - mu0) / 4;
  auto density = [&](double centre) {
    const auto lo = std::lower_bound(m.begin(), m.end(), centre - half_width);
    const auto hi = std::upper_bound(m.begin(), m.end(), centre + half_width);
    return static_cast<double>(hi - lo);
  };
  const double valley = density((mu0 + mu1) / 2);
  const double peaks = std::min(density(mu0), density(mu1));
  const double dip = peaks > 0 ? valley / peaks : 1.0;
  if (!(ashman_d >= limits::kBimodalAshmanD && dip <= 0.5 && mu0 < 0 && mu1 > 0)) return;
  const double low_share = static_cast<double>(low.size()) / static_cast<double>(n);
  Finding f;
  f.id = "bimodal_margins";
  f.severity = Severity::Warning;
  f.title = "The per-pair margins split into two clusters";
  f.evidence = "of " + std::to_string(n) + " pairs, " + std::to_string(high.size()) + " (" +
               percent(1 - low_share) + ") sit around margin " + signed_fixed(mu1, 2) + " and " +
               std::to_string(low.size()) + " (" + percent(low_share) + ") around " + signed_fixed(mu0, 2) +
               ", with few in between (Ashman's D " + fixed(ashman_d, 1) + ", valley " + fixed(dip, 2) +
               "× the peaks)";
  f.meaning =
      "A group of pairs is ranked the wrong way consistently: typically flipped or noisy labels, which "
      "DPO keeps trying to fit.";
  f.suggestion =
      "Inspect the pairs of the low cluster; use robust DPO (rDPO) or cDPO label smoothing with a flip "
      "rate near " +
      percent(low_share) + ", or clean the labels.";
  out.push_back(f);
}

void learning_rate_too_high(const std::vector<StepMetrics>& s, std::vector<Finding>& out) {
  if (s.size() < limits::kMinStepsForTrend) return;
  std::vector<double> diff;
  for (size_t i = 1; i < s.size(); ++i) diff.push_back(s[i].loss - s[i - 1].loss);
  const double centre = median(diff);
  const double typical_loss = std::abs(median(column(s, 0, s.size(), [](const auto& m) { return m.loss; })));
  // 1.4826·MAD estimates the standard deviation of normal noise. Quantised or alternating losses
  // can have MAD = 0; the mean absolute deviation (×1.2533, same consistency) stands in then.
  double scale = 1.4826 * median_absolute_deviation(diff);
  if (!(scale > 0)) {
    double mad_mean = 0;
    for (double d : diff) mad_mean += std::abs(d - centre);
    scale = 1.2533 * mad_mean / static_cast<double>(diff.size());
  }
  scale = std::max(scale, 1e-6 * (typical_loss + 1.0));
  std::vector<size_t> spikes;
  double largest_z = 0;
  size_t largest = 0;
  for (size_t i = 0; i < diff.size(); ++i) {
    const double z = (diff[i] - centre) / scale;
    if (z <= limits::kSpikeZ) continue;
    spikes.push_back(i + 1);
    if (z > largest_z) largest_z = z, largest = i + 1;
  }
  if (spikes.size() < limits::kMinSpikes) return;
  std::string at;
  for (size_t k = 0; k < spikes.size() && k < 5; ++k)
    at += (k ? ", " : "") + std::to_string(s[spikes[k]].step);
  if (spikes.size() > 5) at += ", …";
  Finding f;
  f.id = "learning_rate_too_high";
  f.severity = Severity::Warning;
  f.title = "The loss spikes (learning rate may be too high)";
  f.evidence = std::to_string(spikes.size()) + " loss jumps more than " + fixed(limits::kSpikeZ, 0) +
               " robust standard deviations above the typical step-to-step change (steps " + at +
               "); largest " + signed_fixed(diff[largest - 1], 3) + " at step " +
               std::to_string(s[largest].step) + " (z = " + fixed(largest_z, 1) + "), learning rate " +
               num(s[largest].learning_rate);
  f.meaning =
      "The optimiser overshoots: updates are too large for the loss surface, so the loss jumps before "
      "recovering. Larger spikes end in NaN.";
  f.suggestion = "Lower the learning rate 3–10×, add warmup, keep gradient clipping at 1.0.";
  f.step = s[largest].step;
  out.push_back(f);
}

}  // namespace

const char* severity_name(Severity s) {
  switch (s) {
    case Severity::Info:
      return "info";
    case Severity::Warning:
      return "warning";
    case Severity::Error:
      return "error";
  }
  return "info";
}

double least_squares_slope(const std::vector<double>& x, const std::vector<double>& y) {
  const size_t n = std::min(x.size(), y.size());
  if (n < 2) return 0.0;
  double mx = 0, my = 0;
  for (size_t i = 0; i < n; ++i) mx += x[i], my += y[i];
  mx /= static_cast<double>(n);
  my /= static_cast<double>(n);
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < n; ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
  }
  return sxx > 0 ? sxy / sxx : 0.0;
}

double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<ptrdiff_t>(mid), values.end());
  const double upper = values[mid];
  if (values.size() % 2 == 1) return upper;
  const double lower = *std::max_element(values.begin(), values.begin() + static_cast<ptrdiff_t>(mid));
  return (lower + upper) / 2;
}

double median_absolute_deviation(const std::vector<double>& values) {
  const double centre = median(values);
  std::vector<double> deviation;
  deviation.reserve(values.size());
  for (double v : values) deviation.push_back(std::abs(v - centre));
  return median(deviation);
}

double pearson_correlation(const std::vector<double>& x, const std::vector<double>& y) {
  const size_t n = std::min(x.size(), y.size());
  if (n < 2) return 0.0;
  double mx = 0, my = 0;
  for (size_t i = 0; i < n; ++i) mx += x[i], my += y[i];
  mx /= static_cast<double>(n);
  my /= static_cast<double>(n);
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < n; ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : 0.0;
}

std::vector<Finding> diagnose(const DiagnoseInput& input) {
  std::vector<Finding> findings;
  non_finite(input.steps, findings);
  // The trend rules read only the steps whose numbers are all finite.
  std::vector<StepMetrics> finite;
  finite.reserve(input.steps.size());
  for (const auto& m : input.steps)
    if (all_finite(m)) finite.push_back(m);
  beta_too_high(finite, input.beta, findings);
  beta_too_low(finite, input.beta, findings);
  chosen_logp_falling(finite, findings);
  learning_rate_too_high(finite, findings);
  accuracy_saturated_early(finite, findings);
  bimodal_margins(input.pair_margins, findings);
  length_exploitation(finite, input.sampled_lengths, findings);
  length_bias_in_data(finite, findings);
  std::stable_sort(findings.begin(), findings.end(),
                   [](const Finding& a, const Finding& b) { return a.severity > b.severity; });
  return findings;
}

}  // namespace dpo::diagnose
