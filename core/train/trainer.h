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
#include "core/types/train_config.h"

namespace dpo {

namespace dist {
class Communicator;
}

// What a trainer is built from. Empty `reference` means a frozen copy of the starting policy.
struct TrainerInputs {
  LlamaForCausalLM policy{nullptr};
  std::vector<TokenizedPair> train_pairs;
  std::vector<TokenizedPair> eval_pairs;
  int64_t pad_id = 0;
  std::optional<int64_t> eos_id;        // stops sampled answers
  LlamaForCausalLM reference{nullptr};  // a separate π_ref folder, already loaded
  std::vector<double> train_margins;    // score_w − score_l per train pair (margin loss)
  std::vector<double> eval_margins;
  // KTO: non-empty labels make the pairs KTO rows (core/data/kto_rows.h): chosen_ids = the example's
  // completion, rejected_ids = the mismatched completion for the KL estimate.
  std::vector<bool> train_desirable;
  std::vector<bool> eval_desirable;
  std::filesystem::path reference_cache_dir;  // empty: precomputed log-probs are not stored
  // Data parallel over its ranks (core/dist): every rank builds the trainer from the same inputs; a
  // step takes batch_size pairs per micro-batch on each rank (world_size × batch_size in all), and
  // the summed gradient is the one a single process with the whole batch would get. Null: alone.
  std::shared_ptr<dist::Communicator> communicator;
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
  // epoch). Throws TrainingError (core/runtime/error.h) after max_nonfinite_steps consecutive non-finite
  // steps.
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
  // 1 without a communicator.
  int world_size() const;
  // Alone: `stop`. With several ranks: whether any of them asks to stop (one all-reduce), so that
  // all stop at the same step.
  bool stop_agreed(bool stop);
  // The gradient buckets' sizes in bytes (empty without a communicator).
  std::vector<int64_t> gradient_buckets() const;
  // Seconds steps have waited for gradient all-reduces after their backward pass (0 alone).
  double gradient_wait_seconds() const;
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
