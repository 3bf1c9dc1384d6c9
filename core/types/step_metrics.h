#pragma once
// Torch-free value types of the core: included by the core, the app and the Qt widgets alike.
#include <cstdint>
#include <vector>

namespace dpo {

// What one optimiser step reports; names follow TRL's DPOTrainer logs (rewards/margins, ...).
struct StepMetrics {
  int64_t step = 0;   // 1-based optimiser step
  int64_t epoch = 0;  // 0-based pass over the training pairs
  double loss = 0;
  double rewards_chosen = 0;      // mean β·log(π/π_ref)(y_w) (KTO: over desirable examples)
  double rewards_rejected = 0;    // mean β·log(π/π_ref)(y_l)
  double rewards_margins = 0;     // mean of chosen − rejected rewards: the implicit reward gap
  double rewards_accuracies = 0;  // share of pairs with chosen reward > rejected reward (KTO: of
                                  // examples whose reward sign matches the label)
  double logps_chosen = 0;        // mean log π(y_w | x)
  double logps_rejected = 0;      // mean log π(y_l | x)
  double length_chosen = 0;       // mean response tokens of y_w
  double length_rejected = 0;     // mean response tokens of y_l
  double kl = 0;                  // KTO's z₀ (mean over the step's micro-batches); 0 otherwise
  double logits_chosen = 0;       // mean policy logit over response positions of y_w
  double logits_rejected = 0;
  double learning_rate = 0;                    // used by this step (after warmup / schedule)
  double beta = 0;                             // β of this step (may change between steps while paused)
  double grad_norm = 0;                        // before clipping
  int64_t tokens = 0;                          // tokens processed so far (both halves, no padding)
  double tokens_per_second = 0;                // of this step
  double padding_ratio = 0;                    // padded share of the token slots batched so far this epoch
  double elapsed_seconds = 0;                  // since training started
  bool skipped = false;                        // non-finite loss or gradient: no update was made
  std::vector<double> rank_tokens_per_second;  // data parallel: each rank's own throughput (else empty)

  // The mean log-ratios log π − log π_ref behind the rewards (0 when β is unknown).
  double logratio_chosen() const { return beta > 0 ? rewards_chosen / beta : 0.0; }
  double logratio_rejected() const { return beta > 0 ? rewards_rejected / beta : 0.0; }
};

}  // namespace dpo
