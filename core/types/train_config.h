#pragma once
// Torch-free value types of the core: included by the core, the app and the Qt widgets alike.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/types/loss_config.h"

namespace dpo {

// Preference: a loss of the table (DPO and variants). Sft: maximum likelihood on prompt + chosen,
// the per-token mean NLL of the chosen completions (seed 002 §6, fitting π_ref when none exists).
enum class Objective { Preference, Sft };

enum class LrSchedule { Constant, Linear, Cosine };

struct TrainerConfig {
  Objective objective = Objective::Preference;
  LossConfig loss;
  double learning_rate = 1e-3;
  LrSchedule schedule = LrSchedule::Constant;
  int64_t warmup_steps = 0;
  double weight_decay = 0.0;  // AdamW, decoupled
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_epsilon = 1e-8;
  double max_grad_norm = 1.0;     // <= 0: no clipping (the norm is still reported)
  int64_t batch_size = 8;         // pairs per micro-batch
  int64_t grad_accumulation = 1;  // micro-batches per optimiser step
  int64_t max_steps = 100;        // optimiser steps
  uint64_t seed = 0;              // data order
  int64_t pad_to_multiple_of = 8;
  bool group_by_length = false;  // batches of similar length (less padding), see length_grouping.h
  bool bf16_autocast = false;    // CUDA only: forward passes in bfloat16 (weights and optimiser stay fp32)
  // Response positions per lm_head chunk (core/train/logprobs.h): -1 picks about 32 MB of logits per
  // chunk, 0 computes all positions at once.
  int64_t logit_chunk_rows = -1;
  // One reference pass before training, cached on disk: steps then run only the policy.
  bool precompute_reference = true;
  // TR-DPO (Gorbatovski et al. 2024): every τ steps π_ref ← α·π + (1 − α)·π_ref. 0: off.
  int64_t sync_reference_every = 0;
  double sync_reference_alpha = 0.6;
  int64_t max_nonfinite_steps = 3;  // consecutive skipped steps before the run stops
  int64_t eval_every = 0;           // 0: evaluate only when asked (and at the end via the CLI)
  int64_t eval_batch_size = 16;
  int64_t sample_prompts = 8;  // eval prompts the policy answers to measure sampled length
  int64_t sample_max_new_tokens = 48;
  bool measure_sampled_length = true;
};

// Something that happened besides an ordinary step: a skipped step, a β or learning-rate change.
struct TrainerEvent {
  int64_t step = 0;  // the step it happened at (or before, for changes made while paused)
  std::string kind;  // "nonfinite", "beta", "learning_rate", "reference_sync"
  std::string message;
  std::vector<size_t> pair_lines;                           // pairs of the batch, for "nonfinite"
  double value = std::numeric_limits<double>::quiet_NaN();  // the new β or learning rate
};

struct TrainerCounters {
  int64_t reference_forwards = 0;     // batches the reference model scored during training steps
  int64_t reference_precomputed = 0;  // pairs scored by the precompute pass (0 when read from cache)
  bool reference_from_cache = false;
};

}  // namespace dpo
