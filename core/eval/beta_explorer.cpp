#include "core/eval/beta_explorer.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "core/runtime/error.h"
#include "core/train/losses.h"

namespace dpo {

namespace {

torch::Tensor column(const std::vector<PairRecord>& pairs, double (*get)(const PairRecord&)) {
  std::vector<double> v;
  v.reserve(pairs.size());
  for (const auto& p : pairs) v.push_back(get(p));
  return torch::tensor(v, torch::kFloat64);  // (P)
}

// The pairs as PreferenceLogps with π_ref = 0, so the loss sees the records' log-ratios a and b.
PreferenceLogps as_logps(const std::vector<PairRecord>& pairs, bool at_reference) {
  auto a = column(pairs, [](const PairRecord& p) { return p.logratio_chosen; });
  auto b = column(pairs, [](const PairRecord& p) { return p.logratio_rejected; });
  if (at_reference) a.zero_(), b.zero_();
  auto zeros = torch::zeros_like(a);
  return {.policy_chosen = a,
          .policy_rejected = b,
          .reference_chosen = zeros,
          .reference_rejected = zeros,
          .chosen_tokens = column(
              pairs, [](const PairRecord& p) { return double(std::max<int64_t>(1, p.length_chosen)); }),
          .rejected_tokens = column(
              pairs, [](const PairRecord& p) { return double(std::max<int64_t>(1, p.length_rejected)); })};
}

void check(const std::vector<PairRecord>& pairs, const BetaExplorerOptions& o) {
  if (pairs.empty()) throw ConfigError("beta explorer: no pairs to explore");
  if (o.betas.empty()) throw ConfigError("beta explorer: no beta values");
  if (o.bins == 0 || o.bins > 1000) throw ConfigError("beta explorer: bins must be in 1..1000");
  for (double beta : o.betas)
    if (!(beta > 0) || !std::isfinite(beta)) throw ConfigError("beta explorer: every beta must be > 0");
  for (auto type : o.losses) {
    const auto& info = loss_info(type);
    if (!info.paired || !info.needs_reference)
      throw ConfigError("beta explorer: loss '" + std::string(info.name) +
                        "' does not read log-ratios against a reference; the explorer works from a, b");
  }
}

}  // namespace

std::vector<BetaExplorerCell> explore_betas(const std::vector<PairRecord>& pairs,
                                            const BetaExplorerOptions& options) {
  check(pairs, options);
  const auto logps = as_logps(pairs, false);
  const auto fresh = as_logps(pairs, true);
  const auto h = logps.policy_chosen - logps.policy_rejected;  // (P)
  std::vector<BetaExplorerCell> cells;
  for (auto type : options.losses) {
    std::vector<BetaExplorerCell> row;
    std::vector<torch::Tensor> weights;
    for (double beta : options.betas) {
      auto config = options.base;
      config.type = type;
      config.terms.clear();
      config.beta = beta;
      config.wpo_weighting = false;
      const auto out = preference_loss(config, logps);
      const auto start = preference_loss(config, fresh).gradient_weight.abs();  // (P) |w| at a = b = 0
      const auto& w = out.gradient_weight;                                      // (P)
      BetaExplorerCell cell;
      cell.beta = beta;
      cell.loss = type;
      cell.mean_weight = w.mean().item<double>();
      cell.median_weight = std::get<0>(w.sort()).select(0, (w.size(0) - 1) / 2).item<double>();
      cell.saturated =
          (w.abs() < options.saturation_fraction * start).to(torch::kFloat64).mean().item<double>();
      cell.mean_loss = out.losses.mean().item<double>();
      cell.accuracy = (beta * h > 0).to(torch::kFloat64).mean().item<double>();
      row.push_back(cell);
      weights.push_back(w);
    }
    // Shared edges for the row; a row whose weights are all equal gets a unit-wide range around them.
    auto all = torch::cat(weights);
    double lower = all.min().item<double>(), upper = all.max().item<double>();
    if (!(upper > lower)) lower -= 0.5, upper += 0.5;
    for (size_t i = 0; i < row.size(); ++i) {
      auto& cell = row[i];
      cell.lower = lower;
      cell.upper = upper;
      cell.histogram.assign(options.bins, 0);
      const auto contiguous = weights[i].contiguous();
      const auto* w = contiguous.data_ptr<double>();
      const double width = (upper - lower) / static_cast<double>(options.bins);
      for (int64_t k = 0; k < weights[i].size(0); ++k) {
        const auto bin =
            static_cast<size_t>(std::clamp((w[k] - lower) / width, 0.0, double(options.bins - 1)));
        ++cell.histogram[bin];
      }
      cells.push_back(std::move(cell));
    }
  }
  return cells;
}

}  // namespace dpo
