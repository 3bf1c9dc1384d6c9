#pragma once
// Torch-free value types of the core: included by the core, the app and the Qt widgets alike.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/types/loss_config.h"

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
  int64_t length_difference() const { return length_chosen - length_rejected; }
};

// Implicit-reward evaluation of a policy against its reference on a set of pairs; means over pairs.
struct PreferenceEval {
  int64_t step = 0;
  double beta = 0;  // of the loss it was scored with (not in eval.jsonl: the run's config has it)
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

// One response token as the policy and the reference see it: what the pair inspector's heatmap
// colours. The sum of logratio() over a response is that response's sequence log-ratio (a or b).
struct TokenScore {
  int64_t id = 0;
  std::string piece;          // the tokenizer's piece ("▁the", "Ġthe", "<0x0A>")
  std::string text;           // what the token adds to the decoded text (spaces included)
  double policy_logp = 0;     // log π(y_t | x, y_<t)
  double reference_logp = 0;  // log π_ref(y_t | x, y_<t); 0 without a reference
  double logratio() const { return policy_logp - reference_logp; }
};

struct PairTokenScores {
  size_t line = 0;
  int64_t step = 0;    // the policy's step when scored
  std::string prompt;  // decoded prompt text
  std::vector<TokenScore> chosen;
  std::vector<TokenScore> rejected;
  bool has_reference = false;
};

// One (loss, β) of the β explorer (core/eval/beta_explorer.h): the per-pair gradient weights
// (LossOutput::gradient_weight; σ(r_l − r_w) for DPO) a loss would give a set of pairs at that β.
struct BetaExplorerCell {
  double beta = 0;
  LossType loss = LossType::Sigmoid;
  double mean_weight = 0;    // mean gradient weight over the pairs
  double median_weight = 0;  // 50th percentile
  // Share of pairs whose |weight| is below saturation_fraction of the weight the same pair has when
  // the policy is still the reference (a = b = 0): they barely pull any more.
  double saturated = 0;
  double mean_loss = 0;
  double accuracy = 0;  // share with β·(a − b) > 0 (a tie is wrong)
  // Histogram of the weights over [lower, upper] of this row of cells (the same edges for every β of a
  // loss, so the studio can animate a β slider without the axis jumping).
  double lower = 0, upper = 0;
  std::vector<size_t> histogram;
};

}  // namespace dpo
