#include "core/eval/statistics.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

#include "core/runtime/error.h"

namespace dpo {

namespace {

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

// The q-quantile of sorted values, linearly interpolated (numpy's default).
double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return std::nan("");
  const double at = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(at));
  const auto hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (at - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

void check_level(double level, int resamples) {
  if (!(level > 0 && level < 1)) throw ConfigError("confidence level must be in (0, 1)");
  if (resamples < 10) throw ConfigError("at least 10 bootstrap resamples are needed");
}

Interval percentile_interval(double estimate, std::vector<double> draws, double level) {
  std::sort(draws.begin(), draws.end());
  return {estimate, quantile(draws, (1 - level) / 2), quantile(draws, 1 - (1 - level) / 2)};
}

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

// Solves A x = b (n ≤ a few dozen) by Gaussian elimination with partial pivoting.
std::vector<double> solve(std::vector<std::vector<double>> a, std::vector<double> b) {
  const size_t n = b.size();
  for (size_t c = 0; c < n; ++c) {
    size_t pivot = c;
    for (size_t r = c + 1; r < n; ++r)
      if (std::abs(a[r][c]) > std::abs(a[pivot][c])) pivot = r;
    std::swap(a[c], a[pivot]);
    std::swap(b[c], b[pivot]);
    if (std::abs(a[c][c]) < 1e-300) continue;
    for (size_t r = c + 1; r < n; ++r) {
      const double f = a[r][c] / a[c][c];
      for (size_t k = c; k < n; ++k) a[r][k] -= f * a[c][k];
      b[r] -= f * b[c];
    }
  }
  std::vector<double> x(n, 0);
  for (size_t i = n; i-- > 0;) {
    double s = b[i];
    for (size_t k = i + 1; k < n; ++k) s -= a[i][k] * x[k];
    x[i] = std::abs(a[i][i]) < 1e-300 ? 0 : s / a[i][i];
  }
  return x;
}

}  // namespace

Interval bootstrap_mean(const std::vector<double>& outcomes, double level, int resamples, uint64_t seed) {
  check_level(level, resamples);
  if (outcomes.empty()) return {std::nan(""), std::nan(""), std::nan("")};
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, outcomes.size() - 1);
  std::vector<double> draws;
  draws.reserve(static_cast<size_t>(resamples));
  for (int r = 0; r < resamples; ++r) {
    double s = 0;
    for (size_t i = 0; i < outcomes.size(); ++i) s += outcomes[pick(rng)];
    draws.push_back(s / static_cast<double>(outcomes.size()));
  }
  return percentile_interval(mean_of(outcomes), std::move(draws), level);
}

PairedDifference paired_bootstrap(const std::vector<double>& a, const std::vector<double>& b, double level,
                                  int resamples, uint64_t seed) {
  check_level(level, resamples);
  if (a.size() != b.size()) throw ConfigError("paired bootstrap: the two models scored different pairs");
  std::vector<double> d(a.size());
  for (size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  PairedDifference out;
  if (d.empty()) return out;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, d.size() - 1);
  std::vector<double> draws;
  draws.reserve(static_cast<size_t>(resamples));
  size_t below = 0, above = 0;
  for (int r = 0; r < resamples; ++r) {
    double s = 0;
    for (size_t i = 0; i < d.size(); ++i) s += d[pick(rng)];
    const double m = s / static_cast<double>(d.size());
    below += m <= 0;
    above += m >= 0;
    draws.push_back(m);
  }
  out.difference = percentile_interval(mean_of(d), std::move(draws), level);
  out.p_value = std::min(1.0, 2.0 * static_cast<double>(std::min(below, above)) / resamples);
  return out;
}

BradleyTerry fit_bradley_terry(size_t models, const std::vector<Comparison>& comparisons,
                               bool fit_covariate) {
  if (models == 0) return {};
  for (const auto& c : comparisons)
    if (c.first >= models || c.second >= models || c.first == c.second || !(c.outcome >= 0 && c.outcome <= 1))
      throw ConfigError(
          "Bradley-Terry: a comparison names an unknown model, a model against itself, or an "
          "outcome outside 0..1");
  // Parameters: s_1..s_{m-1} (s_0 = 0 fixes the scale's origin), then γ. Centred afterwards.
  const size_t free = models - 1 + (fit_covariate ? 1 : 0);
  std::vector<double> theta(free, 0);
  const double ridge = 1e-6;
  auto strength = [&](size_t i) { return i == 0 ? 0.0 : theta[i - 1]; };
  for (int iteration = 0; iteration < 100; ++iteration) {
    std::vector<double> grad(free, 0);
    std::vector<std::vector<double>> hess(free, std::vector<double>(free, 0));
    for (size_t k = 0; k < free; ++k) {
      grad[k] -= ridge * theta[k];
      hess[k][k] += ridge;
    }
    for (const auto& c : comparisons) {
      const double gamma = fit_covariate ? theta.back() : 0.0;
      const double p = sigmoid(strength(c.first) - strength(c.second) + gamma * c.covariate);
      const double r = c.outcome - p, w = p * (1 - p);
      // d/dθ of the linear predictor: +1 for first, −1 for second, covariate for γ.
      std::vector<std::pair<size_t, double>> x;
      if (c.first > 0) x.emplace_back(c.first - 1, 1.0);
      if (c.second > 0) x.emplace_back(c.second - 1, -1.0);
      if (fit_covariate) x.emplace_back(free - 1, c.covariate);
      for (const auto& [i, xi] : x) {
        grad[i] += r * xi;
        for (const auto& [j, xj] : x) hess[i][j] += w * xi * xj;
      }
    }
    const auto step = solve(hess, grad);
    double largest = 0;
    for (size_t k = 0; k < free; ++k) {
      theta[k] += std::clamp(step[k], -5.0, 5.0);
      largest = std::max(largest, std::abs(step[k]));
    }
    if (largest < 1e-10) break;
  }
  BradleyTerry out;
  out.strength.resize(models);
  double mean = 0;
  for (size_t i = 0; i < models; ++i) mean += out.strength[i] = strength(i);
  mean /= static_cast<double>(models);
  for (auto& s : out.strength) s -= mean;
  out.covariate_weight = fit_covariate ? theta.back() : 0.0;
  return out;
}

std::vector<RankedModel> rank_bradley_terry(size_t models, const std::vector<Comparison>& comparisons,
                                            bool fit_covariate, double level, int resamples, uint64_t seed) {
  check_level(level, resamples);
  const auto fit = fit_bradley_terry(models, comparisons, fit_covariate);
  std::vector<std::vector<double>> draws(models);
  std::mt19937_64 rng(seed);
  if (!comparisons.empty()) {
    std::uniform_int_distribution<size_t> pick(0, comparisons.size() - 1);
    std::vector<Comparison> sample(comparisons.size());
    for (int r = 0; r < resamples; ++r) {
      for (auto& c : sample) c = comparisons[pick(rng)];
      const auto again = fit_bradley_terry(models, sample, fit_covariate);
      for (size_t i = 0; i < models; ++i) draws[i].push_back(again.strength[i]);
    }
  }
  std::vector<RankedModel> out(models);
  for (size_t i = 0; i < models; ++i)
    out[i].strength = draws[i].empty() ? Interval{fit.strength[i], fit.strength[i], fit.strength[i]}
                                       : percentile_interval(fit.strength[i], draws[i], level);
  for (size_t i = 0; i < models; ++i)
    for (size_t j = 0; j < models; ++j)
      if (j != i && out[j].strength.lower > out[i].strength.upper) ++out[i].rank;
  return out;
}

}  // namespace dpo
