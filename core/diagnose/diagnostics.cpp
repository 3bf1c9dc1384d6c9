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
      "at the start. β too high is the usual cause; a learning rate far too small, or "
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
  const double now_margin =
      median(column(s, tail_from, s.size(), [](const auto& m) { return m.rewards_margins; }));
  if (!(fall_chosen < -limits::kLogratioFall && fall_rejected < -limits::kLogratioFall)) return;
  if (!(now_chosen < 0 && now_rejected < 0)) return;
  // Both log-ratios start at 0, so their levels are what the run has spent and bought so far.
  const double per_margin = now_margin > 0 ? -now_chosen / now_margin : INFINITY;
  if (per_margin < limits::kChosenNatsPerMargin) return;
  Finding f;
  f.id = "beta_too_low";
  f.severity = Severity::Warning;
  f.title = "Chosen and rejected log-ratios are both falling (β may be too low)";
  f.evidence = "the chosen log-ratio is at " + fixed(now_chosen, 2) + " nats and the rejected at " +
               fixed(now_rejected, 2) + " (medians of steps " + std::to_string(s[tail_from].step) + "–" +
               std::to_string(s.back().step) + "), both still falling (by " + fixed(-fall_chosen, 2) +
               " and " + fixed(-fall_rejected, 2) + " over steps " + std::to_string(s[from].step) + "–" +
               std::to_string(s.back().step) + "), for a reward margin of " + num(now_margin) + ": " +
               (std::isfinite(per_margin) ? num(per_margin) : std::string("∞")) +
               " nats of chosen log-ratio per unit of margin (a sound run stays under " +
               num(limits::kChosenNatsPerMargin) + "), β = " + num(beta);
  f.meaning =
      "The policy lowers the probability of chosen and rejected answers alike and wins the margin only "
      "because rejected falls faster: the early symptom of β too low. Left alone the policy drifts far "
      "from the reference and produces degenerate text.";
  f.suggestion =
      "Raise β (×2–5), lower the learning rate, or stop earlier; an SFT term on the chosen answers "
      "(--rpo-alpha) holds them up.";
  f.step = s.back().step;
  out.push_back(f);
}

void chosen_logp_falling(const std::vector<StepMetrics>& s, const std::vector<HeldOutEval>& evals,
                         std::vector<Finding>& out) {
  if (s.size() < limits::kMinStepsForTrend) return;
  const size_t head = std::max<size_t>(3, s.size() / 10);
  const double start = median(column(s, 0, head, [](const auto& m) { return m.logps_chosen; }));
  const size_t from = s.size() / 2;
  const auto x = step_axis(s, from, s.size());
  const double fall =
      fitted_change(x, column(s, from, s.size(), [](const auto& m) { return m.logps_chosen; }));
  const size_t tail_from = s.size() - tail_size(s.size());
  const double now = median(column(s, tail_from, s.size(), [](const auto& m) { return m.logps_chosen; }));
  const double threshold =
      std::max(limits::kChosenLogpFall, limits::kChosenLogpRelativeFall * std::abs(start));
  if (!(fall < -threshold && now < start)) return;

  // Costly: the second half bought little margin for the chosen log-probability it gave up.
  const double margin_gain =
      fitted_change(x, column(s, from, s.size(), [](const auto& m) { return m.rewards_margins; }));
  const double per_margin = margin_gain > 0 ? -fall / margin_gain : INFINITY;
  const bool costly = per_margin >= limits::kChosenNatsPerMargin;

  // Harmful: held-out accuracy fell from its best while the held-out chosen answers kept falling.
  const HeldOutEval* best = nullptr;
  for (const auto& e : evals)
    if (std::isfinite(e.accuracy) && (!best || e.accuracy > best->accuracy)) best = &e;
  const HeldOutEval* last = evals.empty() ? nullptr : &evals.back();
  bool harmful = false;
  double accuracy_drop = 0, held_out_fall = 0;
  if (best && last != best && last->step > best->step) {
    accuracy_drop = best->accuracy - last->accuracy;
    held_out_fall = best->logps_chosen - last->logps_chosen;
    const bool pairs_lost = last->pairs == 0 || accuracy_drop * static_cast<double>(last->pairs) >=
                                                    limits::kHeldOutPairsLost - 1e-9;
    harmful = accuracy_drop >= limits::kHeldOutAccuracyDrop - 1e-9 && pairs_lost &&
              held_out_fall >= limits::kHeldOutChosenFall;
  }
  if (!costly && !harmful) return;

  Finding f;
  f.id = "chosen_logp_falling";
  f.severity = Severity::Warning;
  f.title = "The policy is making the chosen answers less likely";
  f.evidence = "log π(y_w) went from " + fixed(start, 2) + " (median of the first " + std::to_string(head) +
               " steps) to " + fixed(now, 2) + " (last " + std::to_string(s.size() - tail_from) +
               " steps); fitted fall over steps " + std::to_string(s[from].step) + "–" +
               std::to_string(s.back().step) + ": " + fixed(-fall, 2) + " nats";
  if (costly)
    f.evidence += margin_gain > 0
                      ? ", for a margin gain of only " + num(margin_gain) + " (" + num(per_margin) +
                            " nats per unit of margin; a sound run stays under " +
                            num(limits::kChosenNatsPerMargin) + ")"
                      : ", while the margin did not grow";
  if (harmful)
    f.evidence += std::string(costly ? "; " : "; meanwhile ") + "held-out accuracy fell from " +
                  fixed(best->accuracy, 2) + " (step " + std::to_string(best->step) + ") to " +
                  fixed(last->accuracy, 2) + " (step " + std::to_string(last->step) +
                  ") and the held-out chosen answers lost another " + fixed(held_out_fall, 2) + " nats";
  f.meaning =
      harmful ? "Likelihood displacement that no longer pays: the policy keeps pushing the chosen answers "
                "down, and held-out pairs are ranked worse than before. The outputs are likely getting "
                "worse, not better."
              : "The margin grows mostly because both answers fall, rejected a little faster "
                "(likelihood displacement). Preference accuracy can look fine while the outputs get worse.";
  f.suggestion =
      harmful ? "Stop earlier or keep an earlier checkpoint (train with --checkpoint-every, then dpo rank "
                "--run DIR --select best); add an SFT term on the chosen answers (--rpo-alpha), raise β, "
                "or lower the learning rate."
              : "Add an SFT term on the chosen answers (--rpo-alpha), raise β, or lower the learning rate.";
  f.step = harmful ? last->step : s.back().step;
  out.push_back(f);
}

void overfitting(const std::vector<StepMetrics>& s, const std::vector<HeldOutEval>& evals_in,
                 std::vector<Finding>& out) {
  std::vector<HeldOutEval> evals;
  for (const auto& e : evals_in)
    if (std::isfinite(e.loss)) evals.push_back(e);
  if (evals.size() < limits::kMinEvalsForOverfitting || s.empty()) return;
  const auto lowest = std::min_element(evals.begin(), evals.end() - 1,
                                       [](const auto& a, const auto& b) { return a.loss < b.loss; });
  const HeldOutEval& last = evals.back();
  if (!(last.loss > kLn2 && last.loss - lowest->loss >= limits::kHeldOutLossRise)) return;
  // The training loss around the lowest held-out loss, against the end of the run.
  const auto at_lowest = std::upper_bound(s.begin(), s.end(), lowest->step,
                                          [](int64_t step, const StepMetrics& m) { return step < m.step; });
  const size_t lowest_index = static_cast<size_t>(at_lowest - s.begin());
  const size_t window = std::min(s.size(), limits::kMinTailSteps);
  const size_t then_to = std::max(lowest_index, std::min(window, s.size()));
  const size_t then_from = then_to - std::min(then_to, window);
  const size_t now_from = std::max(then_to, s.size() - tail_size(s.size()));
  if (now_from >= s.size()) return;  // no training after the lowest held-out loss to compare
  const double train_then = median(column(s, then_from, then_to, [](const auto& m) { return m.loss; }));
  const double train_now = median(column(s, now_from, s.size(), [](const auto& m) { return m.loss; }));
  if (!(train_now < train_then)) return;
  Finding f;
  f.id = "overfitting";
  f.severity = Severity::Warning;
  f.title = "Held-out loss is rising while training loss falls (overfitting)";
  f.evidence = "held-out loss rose from " + fixed(lowest->loss, 3) + " (step " +
               std::to_string(lowest->step) + ", its lowest) to " + fixed(last.loss, 3) + " (step " +
               std::to_string(last.step) + "), past ln 2 = 0.693, while the training loss fell from " +
               fixed(train_then, 3) + " to " + fixed(train_now, 3) + " (medians of steps " +
               std::to_string(s[then_from].step) + "–" + std::to_string(s[then_to - 1].step) + " and " +
               std::to_string(s[now_from].step) + "–" + std::to_string(s.back().step) +
               "); held-out accuracy " + fixed(lowest->accuracy, 2) + " → " + fixed(last.accuracy, 2);
  f.meaning =
      "The policy is memorising the training pairs instead of learning what makes an answer better: on "
      "pairs it has not seen it now does worse than the untrained reference, which scores exactly ln 2.";
  f.suggestion =
      "Stop earlier and use the model from around step " + std::to_string(lowest->step) +
      " (train with --checkpoint-every, then dpo rank --run DIR --select best); use more pairs, a lower "
      "learning rate or fewer steps, or raise β.";
  f.step = last.step;
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
  if (!(ashman_d >= limits::kBimodalAshmanD && dip <= 0.5 && mu1 > 0 &&
        mu0 < -limits::kMisrankedClusterDepth * mu1))
    return;
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

namespace {

// Plain-language background for each rule: what is measured, why DPO shows the pattern, and what
// the suggestions change. Paragraphs are separated by blank lines.
const std::vector<Rule> kRules = {
    {"non_finite", "NaN or infinite values",
     "Every training step logs a handful of numbers: the loss, the rewards of the chosen and rejected "
     "answers, their log-probabilities, the gradient norm. Normally they are ordinary finite numbers. NaN "
     "(\"not a number\") or infinity means some computation overflowed or took the logarithm of zero.\n\n"
     "In DPO this usually comes from an update that was too large: the weights jump, a log-probability "
     "becomes enormous or minus infinity, and from then on every number computed from those weights is "
     "garbage. Half-precision (float16) arithmetic overflows much sooner than float32 or bfloat16, and an "
     "empty response can produce a log of zero.\n\n"
     "Stopping the run keeps you from wasting time on meaningless steps. A lower learning rate makes the "
     "jumps smaller, gradient clipping caps the size of any single update, and float32 or bfloat16 have "
     "the range that float16 lacks."},
    {"beta_too_high", "β too high: the margin stays at zero",
     "The reward margin is the gap between the implicit rewards of the chosen and the rejected answer: β "
     "times how much more the policy has raised the chosen answer's log-probability than the rejected "
     "one's, both measured against the reference model. At the start the policy is the reference, so "
     "the margin is 0 and the DPO loss is ln 2 ≈ 0.693. A run that learns sees the margin rise and the "
     "loss fall.\n\n"
     "β sets how far the policy may move from the reference. With a very large β even a tiny change in "
     "the log-probabilities is a large change in reward, so the loss pulls the policy back towards the "
     "reference before it can learn anything: the margin stays near 0 and the loss stays at ln 2. A "
     "learning rate far too small, or pairs whose two answers barely differ, look the same.\n\n"
     "Lowering β (0.1 is the usual start) gives the policy room to move. Raising the learning rate lets "
     "each step move it further. Checking the data rules out pairs that carry no preference signal."},
    {"beta_too_low", "β too low: both log-ratios fall",
     "A log-ratio is how much the policy has changed an answer's log-probability compared with the "
     "reference model, in nats: 0 means unchanged, -3 means about 20 times less likely. DPO tracks two of "
     "them, one for the chosen answers and one for the rejected ones, and the loss only cares about the "
     "gap between them.\n\n"
     "It is normal for both to fall a little: the easiest way to widen the gap is to push the rejected "
     "answers down, and the chosen ones, which share words and phrasing with them, come down a bit too. "
     "It becomes a problem when the chosen answers pay heavily for a small gain in margin. With a small "
     "β the loss never feels it has won (the margin is β times the gap, so it stays small), and it keeps "
     "pushing both answers down without limit. The policy drifts far from the reference, into text the "
     "data says nothing about, and its answers degrade. This rule fires when the chosen log-ratio has "
     "lost several nats for every unit of reward margin gained.\n\n"
     "Raising β makes each nat of the gap count for more, so the loss is satisfied sooner and stops "
     "pushing. A lower learning rate or an earlier stop limits the drift. An SFT term on the chosen "
     "answers (--rpo-alpha) explicitly rewards keeping them likely."},
    {"chosen_logp_falling", "Chosen answers getting less likely",
     "log π(y_w) is the log-probability the policy gives the chosen (preferred) answers. DPO raises the "
     "chosen answers relative to the rejected ones, but nothing in its loss says the chosen answers must "
     "become more likely in absolute terms. In practice both usually fall, rejected much faster. This is "
     "called likelihood displacement, and on its own it is normal: a short healthy run on the demo loses a "
     "few nats on the chosen answers while the margin and held-out accuracy rise.\n\n"
     "It is worth a warning in two cases. First, when it is expensive: the chosen answers keep falling "
     "while the margin hardly grows any more, so the run is spending likelihood for nothing. Second, when "
     "it stops paying on pairs the model has not trained on: held-out accuracy drops from its best while "
     "the held-out chosen answers keep falling. Then the probability taken from the good answers is going "
     "somewhere else, often to text that is neither answer, and the outputs get worse.\n\n"
     "Stopping earlier, or keeping the best checkpoint, keeps the model from before the damage. An SFT term "
     "on the chosen answers (--rpo-alpha) holds them up directly. A larger β or a lower learning rate "
     "slows the drift."},
    {"overfitting", "Overfitting: held-out loss rising",
     "Part of the data (the eval split) is held out: the model never trains on it, and every few steps "
     "the run measures the DPO loss on those pairs. That held-out loss tells you whether what the model "
     "learns carries over to new prompts. The untrained reference scores exactly ln 2 ≈ 0.693 on it; "
     "lower is better.\n\n"
     "When the training loss keeps falling but the held-out loss turns around and climbs above ln 2, the "
     "model has stopped learning the preference and started memorising the training pairs: their "
     "particular words, lengths or quirks. On new pairs it is now worse than not training at all. This "
     "happens with few pairs, many steps or a high learning rate, and DPO makes it easy because the loss "
     "keeps rewarding ever larger margins on pairs that are already ranked right.\n\n"
     "The model from around the lowest held-out loss is the one to keep: train with --checkpoint-every "
     "and let dpo rank --run DIR --select best pick it. More pairs give less to memorise; a lower "
     "learning rate or fewer steps stop before memorising starts; a larger β keeps the policy closer to "
     "the reference, which limits how far it can bend towards the training pairs."},
    {"learning_rate_too_high", "Loss spikes: learning rate too high",
     "The loss usually changes a little from one step to the next: it wobbles because every batch holds "
     "different pairs, and trends down as the model learns. A spike is a jump far larger than that usual "
     "wobble (here more than six times its typical size).\n\n"
     "Spikes mean the optimiser takes steps too big for the loss surface: it overshoots a valley, lands "
     "somewhere worse, and needs several steps to recover. A few isolated spikes waste training; larger "
     "ones end in NaN.\n\n"
     "A lower learning rate makes every step smaller. Warmup starts with small steps while the optimiser's "
     "statistics settle. Gradient clipping caps the size of any one update."},
    {"accuracy_saturated_early", "Preference accuracy saturated early",
     "Preference accuracy is the share of pairs in a batch whose chosen answer gets the higher implicit "
     "reward. It starts near 0.5 (chance) and should climb as the model learns.\n\n"
     "If it reaches almost 1.0 within the first fifth of the run and stays there, the training pairs are "
     "too easy for the model, or the model has become overconfident: with every pair ranked right, the DPO "
     "loss still rewards ever larger margins, so the rest of the run only pushes the log-probabilities "
     "further apart without learning anything new, which invites overfitting and likelihood "
     "displacement.\n\n"
     "IPO replaces DPO's open-ended push with a fixed target margin. Label smoothing (cDPO) stops the loss "
     "from demanding certainty. Fewer epochs, a lower learning rate or harder pairs leave less room to "
     "over-fit."},
    {"bimodal_margins", "Per-pair margins in two clusters",
     "At each evaluation every held-out pair gets its own reward margin: positive when the model ranks "
     "the chosen answer higher, negative when it ranks it lower. Usually these margins form one spread "
     "around a positive average.\n\n"
     "Two separate clusters, one clearly positive and one clearly negative with few pairs in between, "
     "mean a group of pairs is consistently ranked the \"wrong\" way. The usual cause is labels that are "
     "flipped or noisy: for those pairs the \"rejected\" answer really is better, the model has learned "
     "that, and DPO keeps fighting it.\n\n"
     "Look at the pairs of the low cluster first. Robust DPO (rDPO) and label smoothing (cDPO) tell the "
     "loss to expect a share of wrong labels, set to about the size of the low cluster; cleaning the "
     "labels removes the problem at its source."},
    {"length_exploitation", "Sampled answers get longer",
     "At each evaluation the run lets the model write answers to a fixed set of prompts and records their "
     "average length in tokens.\n\n"
     "DPO has a known length bias: a longer answer accumulates more log-probability difference against "
     "the reference, so when chosen answers in the data tend to be longer, the model can raise its margin "
     "simply by writing more. If the sampled length climbs steadily together with the reward margin, "
     "length is doing some of the work the preferences were supposed to do: the model will look good to "
     "a preference benchmark and worse to a reader.\n\n"
     "A length-normalised loss (SimPO) divides by the answer length, so extra tokens earn nothing. "
     "Length-controlled pairs remove the signal from the data. Stopping earlier limits how far it goes."},
    {"length_bias_in_data", "Length bias in the data",
     "This note is about the data, not the model: over the training batches the chosen answers are "
     "noticeably longer (or shorter) than the rejected ones on average.\n\n"
     "Length is the easiest difference for a model to pick up. If the preferred answers are usually the "
     "longer ones, DPO can learn \"longer is better\" instead of what the labels mean, and the sampled "
     "answers will grow during training. It is not a problem by itself, only a risk to watch: the "
     "length-exploitation check looks for it in the sampled answers.\n\n"
     "dpo data stats shows the bias per dataset. Pairs of balanced length remove it; a length-normalised "
     "loss (SimPO) makes the model ignore it."},
};

}  // namespace

const std::vector<Rule>& rules() { return kRules; }

std::string_view explanation(std::string_view id) {
  for (const auto& r : kRules)
    if (r.id == id) return r.explanation;
  return {};
}

DiagnoseInput make_input(std::vector<StepMetrics> steps, double beta,
                         const std::vector<PreferenceEval>& evals) {
  DiagnoseInput input;
  input.steps = std::move(steps);
  input.beta = beta;
  if (!evals.empty())
    for (const auto& p : evals.back().pairs) input.pair_margins.push_back(p.margin);
  for (const auto& e : evals) {
    if (std::isfinite(e.sampled_length)) input.sampled_lengths.push_back({e.step, e.sampled_length});
    input.evals.push_back({e.step, e.mean_loss, e.accuracy, e.logps_chosen, e.pairs.size()});
  }
  std::stable_sort(input.evals.begin(), input.evals.end(),
                   [](const HeldOutEval& a, const HeldOutEval& b) { return a.step < b.step; });
  return input;
}

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
  chosen_logp_falling(finite, input.evals, findings);
  overfitting(finite, input.evals, findings);
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
