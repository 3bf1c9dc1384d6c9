#include "core/eval/eval_report.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include "core/runtime/error.h"

namespace dpo {

PairScoring parse_pair_scoring(const std::string& name) {
  if (name == "implicit") return PairScoring::Implicit;
  if (name == "sum") return PairScoring::Sum;
  if (name == "mean") return PairScoring::Mean;
  if (name == "simpo") return PairScoring::Simpo;
  throw ConfigError("--score: expected implicit, sum, mean or simpo, got \"" + name + "\"");
}

const char* pair_scoring_name(PairScoring s) {
  switch (s) {
    case PairScoring::Implicit:
      return "implicit";
    case PairScoring::Sum:
      return "sum";
    case PairScoring::Mean:
      return "mean";
    case PairScoring::Simpo:
      return "simpo";
  }
  return "?";
}

void rescore_pairs(std::vector<PairRecord>& pairs, PairScoring scoring, double beta, double simpo_gamma) {
  if (scoring == PairScoring::Implicit || scoring == PairScoring::Sum) return;
  const double scale = scoring == PairScoring::Simpo ? beta : 1.0;
  const double target = scoring == PairScoring::Simpo ? simpo_gamma : 0.0;
  for (auto& r : pairs) {
    const double avg_w = r.logratio_chosen / static_cast<double>(std::max<int64_t>(1, r.length_chosen));
    const double avg_l = r.logratio_rejected / static_cast<double>(std::max<int64_t>(1, r.length_rejected));
    r.reward_chosen = scale * avg_w;
    r.reward_rejected = scale * avg_l;
    r.margin = r.reward_chosen - r.reward_rejected - target;
    r.misranked = !(r.margin > 0);
  }
}

EvalReport report_pairs(const std::vector<PairRecord>& pairs, int resamples, uint64_t seed) {
  EvalReport r;
  r.pairs = pairs.size();
  std::vector<double> correct, margins;
  for (const auto& p : pairs) {
    correct.push_back(p.misranked ? 0.0 : 1.0);
    margins.push_back(p.margin);
  }
  r.accuracy = bootstrap_mean(correct, 0.95, resamples, seed);
  r.mean_margin = bootstrap_mean(margins, 0.95, resamples, seed + 1);

  // Quintiles of |margin|; equal margins stay in one bin.
  std::vector<size_t> order(pairs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return std::abs(pairs[a].margin) < std::abs(pairs[b].margin); });
  const size_t bins = std::min<size_t>(5, pairs.size());
  for (size_t b = 0, start = 0; b < bins && start < order.size(); ++b) {
    size_t end = std::max(start + 1, (b + 1) * order.size() / bins);
    while (end < order.size() && std::abs(pairs[order[end]].margin) == std::abs(pairs[order[end - 1]].margin))
      ++end;
    CalibrationBin bin;
    bin.lower = std::abs(pairs[order[start]].margin);
    bin.upper = std::abs(pairs[order[end - 1]].margin);
    for (size_t k = start; k < end; ++k) {
      const auto& p = pairs[order[k]];
      bin.accuracy += p.misranked ? 0.0 : 1.0;
      bin.predicted += 1 / (1 + std::exp(-std::abs(p.margin)));
    }
    bin.pairs = end - start;
    bin.accuracy /= static_cast<double>(bin.pairs);
    bin.predicted /= static_cast<double>(bin.pairs);
    r.calibration.push_back(bin);
    start = end;
  }

  for (const auto& p : pairs) {
    if (p.length_chosen == p.length_rejected) continue;
    ++r.length_pairs;
    const bool chosen_longer = p.length_chosen > p.length_rejected;
    const bool model_picks_chosen = p.margin > 0;
    r.model_prefers_longer += model_picks_chosen == chosen_longer ? 1.0 : 0.0;
    r.data_prefers_longer += chosen_longer ? 1.0 : 0.0;
  }
  if (r.length_pairs > 0) {
    r.model_prefers_longer /= static_cast<double>(r.length_pairs);
    r.data_prefers_longer /= static_cast<double>(r.length_pairs);
  }
  return r;
}

void to_json(nlohmann::json& j, const Interval& i) {
  j = nlohmann::json{{"estimate", i.estimate}, {"lower", i.lower}, {"upper", i.upper}};
}

void to_json(nlohmann::json& j, const EvalReport& r) {
  auto bins = nlohmann::json::array();
  for (const auto& b : r.calibration)
    bins.push_back({{"abs_margin_lower", b.lower},
                    {"abs_margin_upper", b.upper},
                    {"pairs", b.pairs},
                    {"accuracy", b.accuracy},
                    {"predicted", b.predicted}});
  j = nlohmann::json{{"pairs", r.pairs},
                     {"accuracy", r.accuracy},
                     {"mean_margin", r.mean_margin},
                     {"calibration", bins},
                     {"length_pairs", r.length_pairs},
                     {"model_prefers_longer", r.model_prefers_longer},
                     {"data_prefers_longer", r.data_prefers_longer}};
}

}  // namespace dpo
