#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <limits>
#include <vector>

#include "core/data/preference_pair.h"
#include "core/model/llama.h"
#include "core/train/losses.h"
#include "core/train/reference_logps.h"

namespace dpo {

// One pair's standing at an evaluation: what the pair inspector plots over training.
struct PairRecord {
  int64_t step = 0;
  size_t line = 0;               // the pair's id: its line in the source file
  double logratio_chosen = 0;    // a = log π(y_w) − log π_ref(y_w)
  double logratio_rejected = 0;  // b
  double reward_chosen = 0;      // β·a
  double reward_rejected = 0;    // β·b
  double margin = 0;             // β·(a − b)
  bool misranked = false;        // margin <= 0
  double loss = 0;
  double gradient_weight = 0;  // see LossOutput::gradient_weight; σ(r_l − r_w) for DPO
  int64_t length_chosen = 0;
  int64_t length_rejected = 0;
};

// Implicit-reward evaluation of a policy against its reference on a set of pairs; means over pairs.
struct PreferenceEval {
  int64_t step = 0;
  double mean_loss = 0;
  double rewards_chosen = 0;
  double rewards_rejected = 0;
  double mean_margin = 0;  // mean r_w − r_l
  double accuracy = 0;     // share of pairs with r_w > r_l
  double logps_chosen = 0;
  double logps_rejected = 0;
  double logits_chosen = 0;
  double logits_rejected = 0;
  double length_chosen = 0;
  double length_rejected = 0;
  // Mean new tokens the policy samples for a fixed prompt set (NaN when not measured): rising
  // with the margin is seed 002 §10's length exploitation.
  double sampled_length = std::numeric_limits<double>::quiet_NaN();
  // KL(π‖π_ref) estimated on those same sampled answers: mean of log π(y) − log π_ref(y), summed over
  // each answer's tokens (NaN without a reference or samples). 0 while the policy is the reference.
  double sampled_kl = std::numeric_limits<double>::quiet_NaN();
  std::vector<PairRecord> pairs;  // in input order
};

// reference: forward pass source when `cached` is null. margins: score_w − score_l per pair (empty: none).
PreferenceEval evaluate_preferences(LlamaForCausalLM& policy, LlamaForCausalLM* reference,
                                    const std::vector<TokenizedPair>& pairs, int64_t pad_id,
                                    const LossConfig& loss, int64_t batch_size = 16,
                                    const ReferenceLogps* cached = nullptr,
                                    const std::vector<double>& margins = {});

// TRL's eval log names: "eval_loss", "eval_rewards/margins", ...; per-pair records for pairs.jsonl.
void to_json(nlohmann::json& j, const PreferenceEval& e);
void from_json(const nlohmann::json& j, PreferenceEval& e);
void to_json(nlohmann::json& j, const PairRecord& r);
void from_json(const nlohmann::json& j, PairRecord& r);

}  // namespace dpo
