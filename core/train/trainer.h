#pragma once
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/data/preference_pair.h"
#include "core/eval/preference_eval.h"
#include "core/model/llama.h"
#include "core/train/losses.h"
#include "core/train/metrics.h"
#include "core/train/reference_logps.h"
#include "core/train/schedule.h"

namespace dpo {

// Preference: a loss of the table (DPO and variants). Sft: maximum likelihood on prompt + chosen,
// the per-token mean NLL of the chosen completions (seed 002 §6, fitting π_ref when none exists).
enum class Objective { Preference, Sft };

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
  double max_grad_norm = 1.0;      // <= 0: no clipping (the norm is still reported)
  int64_t batch_size = 8;          // pairs per micro-batch
  int64_t grad_accumulation = 1;   // micro-batches per optimiser step
  int64_t max_steps = 100;         // optimiser steps
  uint64_t seed = 0;               // data order
  int64_t pad_to_multiple_of = 8;
  bool group_by_length = false;  // batches of similar length (less padding), see length_grouping.h
  bool bf16_autocast = false;  // CUDA only: forward passes in bfloat16 (weights and optimiser stay fp32)
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
  int64_t sample_prompts = 8;           // eval prompts the policy answers to measure sampled length
  int64_t sample_max_new_tokens = 48;
  bool measure_sampled_length = true;
};

// What a trainer is built from. Empty `reference` means a frozen copy of the starting policy.
struct TrainerInputs {
  LlamaForCausalLM policy{nullptr};
  std::vector<TokenizedPair> train_pairs;
  std::vector<TokenizedPair> eval_pairs;
  int64_t pad_id = 0;
  std::optional<int64_t> eos_id;                 // stops sampled answers
  LlamaForCausalLM reference{nullptr};           // a separate π_ref folder, already loaded
  std::vector<double> train_margins;             // score_w − score_l per train pair (margin loss)
  std::vector<double> eval_margins;
  // KTO: non-empty labels make the pairs KTO rows (core/data/kto_rows.h): chosen_ids = the example's
  // completion, rejected_ids = the mismatched completion for the KL estimate.
  std::vector<bool> train_desirable;
  std::vector<bool> eval_desirable;
  std::filesystem::path reference_cache_dir;     // empty: precomputed log-probs are not stored
};

// Something that happened besides an ordinary step: a skipped step, a β or learning-rate change.
struct TrainerEvent {
  int64_t step = 0;  // the step it happened at (or before, for changes made while paused)
  std::string kind;  // "nonfinite", "beta", "learning_rate", "reference_sync"
  std::string message;
  std::vector<size_t> pair_lines;  // pairs of the batch, for "nonfinite"
};

struct TrainerCounters {
  int64_t reference_forwards = 0;    // batches the reference model scored during training steps
  int64_t reference_precomputed = 0; // pairs scored by the precompute pass (0 when read from cache)
  bool reference_from_cache = false;
};

struct TrainerCallbacks {
  // The reference pass's progress; false cancels it (prepare / step then throw dpo::Cancelled).
  std::function<bool(const std::string& stage, size_t done, size_t total)> on_progress;
  std::function<bool(const StepMetrics&)> on_step;  // false stops training
  std::function<void(const PreferenceEval&)> on_eval;
  std::function<void(const TrainerEvent&)> on_event;
};

// Runs DPO (or SFT) on a policy. Drive it one step() at a time (the studio's worker does, to pause
// between steps) or with train() (the CLI).
class Trainer {
 public:
  Trainer(TrainerInputs inputs, TrainerConfig config);
  // The policy's frozen copy as reference, no eval split.
  Trainer(LlamaForCausalLM policy, std::vector<TokenizedPair> pairs, int64_t pad_id, TrainerConfig config);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // The reference pass, when the loss needs π_ref and precompute_reference is on; step() runs it
  // on first use otherwise. Reads or writes the disk cache.
  void prepare(const TrainerCallbacks& callbacks = {});

  // One optimiser step over grad_accumulation micro-batches of batch_size pairs (reshuffled each
  // epoch). Throws TrainingError (core/runtime/error.h) after max_nonfinite_steps consecutive non-finite steps.
  StepMetrics step(const TrainerCallbacks& callbacks = {});
  // Implicit-reward evaluation on the eval split (empty result without one), with sampled length.
  PreferenceEval evaluate();
  bool eval_due() const;  // eval_every divides the steps done
  bool finished() const;
  int64_t steps_done() const;

  // Take effect from the next step; each change is returned as an event to log.
  TrainerEvent set_beta(double beta);
  TrainerEvent set_learning_rate(double learning_rate);

  // Optimiser, data order, RNG and counters (not the weights: see checkpoint.h) as files in `dir`.
  void save_state(const std::filesystem::path& dir) const;
  void load_state(const std::filesystem::path& dir);

  const TrainerConfig& config() const;
  const TrainerCounters& counters() const;
  const std::vector<TokenizedPair>& eval_pairs() const;
  LlamaForCausalLM& policy();
  // The reference model; null when none is held (reference-free loss, or precomputed and released).
  LlamaForCausalLM* reference();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Steps until max_steps, on_step returns false, or *cancel becomes true (checked between steps,
// so a stop takes effect within one step); evaluates every eval_every steps. Returns steps run.
int64_t train(Trainer& trainer, const TrainerCallbacks& callbacks, const std::atomic<bool>* cancel = nullptr);
int64_t train(Trainer& trainer, const std::function<bool(const StepMetrics&)>& on_step,
              const std::atomic<bool>* cancel = nullptr);

}  // namespace dpo
