#pragma once
// What `dpo eval` reports about a model on preference pairs (issue 14), from the per-pair records
// an evaluation produced; torch-free. A tie counts as wrong, as RewardBench counts it.
#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

#include "core/eval/statistics.h"
#include "core/types/eval_records.h"

namespace dpo {

// How a pair is scored. Implicit: β·(log π − log π_ref) per answer (the records as they are).
// Without a reference: Sum β·log π(y); Mean log π(y)/|y|; SimPO β·log π(y)/|y| with the target
// margin γ (correct when β·(avg_w − avg_l) > γ).
enum class PairScoring { Implicit, Sum, Mean, Simpo };
PairScoring parse_pair_scoring(const std::string& name);  // "implicit", "sum", "mean", "simpo"
const char* pair_scoring_name(PairScoring s);

// Re-scores records made with reference-free rewards β·log π(y) (logratio_* = log π(y)) for Mean
// and Simpo; Implicit and Sum leave them as they are.
void rescore_pairs(std::vector<PairRecord>& pairs, PairScoring scoring, double beta, double simpo_gamma);

struct CalibrationBin {
  double lower = 0, upper = 0;  // of |margin|
  size_t pairs = 0;
  double accuracy = 0;   // share ranked right
  double predicted = 0;  // mean σ(|margin|): what the margin claims
};

struct EvalReport {
  size_t pairs = 0;
  Interval accuracy;                        // 95% percentile bootstrap
  Interval mean_margin;                     // likewise
  std::vector<CalibrationBin> calibration;  // quintiles of |margin|
  // Of the pairs whose answers differ in length: how often the model prefers the longer one, and how
  // often the data does (chosen longer); a model far above the data has learned length.
  size_t length_pairs = 0;
  double model_prefers_longer = 0;
  double data_prefers_longer = 0;
};

EvalReport report_pairs(const std::vector<PairRecord>& pairs, int resamples = 2000, uint64_t seed = 0);
void to_json(nlohmann::json& j, const Interval& i);
void to_json(nlohmann::json& j, const EvalReport& r);

}  // namespace dpo
