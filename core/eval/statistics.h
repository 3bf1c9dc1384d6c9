#pragma once
// The statistics behind `dpo eval` and `dpo rank` (issue 14), torch-free: percentile bootstrap
// intervals of a preference accuracy, a paired bootstrap of the difference between two models on
// the same pairs (with its p-value), and a Bradley–Terry fit of pairwise comparisons with bootstrap
// intervals and an optional length covariate (Chatbot Arena's and AlpacaEval's recipes).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace dpo {

struct Interval {
  double estimate = 0;  // on the data as given
  double lower = 0, upper = 0;
};

// Mean of `outcomes` (1 correct, 0 wrong, or any per-pair score) with a percentile bootstrap
// interval at `level` from `resamples` resamples of the pairs (seeded: the same call gives the same
// interval).
Interval bootstrap_mean(const std::vector<double>& outcomes, double level = 0.95, int resamples = 2000,
                        uint64_t seed = 0);

struct PairedDifference {
  Interval difference;  // mean(a) − mean(b)
  double p_value = 1;   // two-sided: how often a resampled difference lands on the other side of 0
};
// a and b score the same pairs (a[i], b[i] for pair i); pairs are resampled together.
PairedDifference paired_bootstrap(const std::vector<double>& a, const std::vector<double>& b,
                                  double level = 0.95, int resamples = 2000, uint64_t seed = 0);

// One comparison: model `first` against model `second`; outcome 1 (first won), 0.5 (tie), 0.
// covariate: e.g. the length difference of the two answers (length control), 0 without one.
struct Comparison {
  size_t first = 0, second = 0;
  double outcome = 0;
  double covariate = 0;
};

struct BradleyTerry {
  // Strengths on the logit scale, centred (mean 0): P(i beats j) = σ(s_i − s_j + γ·covariate).
  std::vector<double> strength;
  double covariate_weight = 0;  // γ (0 when not fitted)
};
// Maximum likelihood by Newton's method with a tiny ridge (1e-6) for models that never lose or
// never win. Ties count half a win each way.
BradleyTerry fit_bradley_terry(size_t models, const std::vector<Comparison>& comparisons,
                               bool fit_covariate = false);

struct RankedModel {
  Interval strength;  // percentile bootstrap over comparisons
  int rank = 1;       // 1 + the number of models whose lower bound is above this one's upper bound
};
std::vector<RankedModel> rank_bradley_terry(size_t models, const std::vector<Comparison>& comparisons,
                                            bool fit_covariate = false, double level = 0.95,
                                            int resamples = 500, uint64_t seed = 0);

}  // namespace dpo
