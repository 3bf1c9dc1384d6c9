#pragma once
// The β explorer (issue 14): what a loss would do to a dataset's pairs at each β, without training.
// From each pair's log-ratios a = log π(y_w) − log π_ref(y_w) and b (a run's last evaluation, or
// `dpo eval`'s records), per β and loss: the distribution of the per-pair gradient weights
// (LossOutput::gradient_weight; σ(r_l − r_w) for DPO) and the share of pairs already saturated.
#include <cstddef>
#include <vector>

#include "core/types/eval_records.h"
#include "core/types/loss_config.h"

namespace dpo {

struct BetaExplorerOptions {
  std::vector<double> betas{0.01, 0.03, 0.1, 0.3, 1.0};
  std::vector<LossType> losses{LossType::Sigmoid};
  size_t bins = 20;
  double saturation_fraction = 0.1;
  LossConfig base{};  // the other loss settings (label smoothing, γ, τ, …); type and β are overridden
};

// One cell per (loss, β), losses outer. Throws ConfigError for a reference-free or unpaired loss (the
// records hold log-ratios, not the policy's own log-probs), an empty pair list, β ≤ 0 or bins == 0.
std::vector<BetaExplorerCell> explore_betas(const std::vector<PairRecord>& pairs,
                                            const BetaExplorerOptions& options);

}  // namespace dpo
