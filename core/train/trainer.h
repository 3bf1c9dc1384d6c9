#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/data/preference_pair.h"
#include "core/model/llama.h"
#include "core/train/losses.h"
#include "core/train/metrics.h"

namespace dpo {

struct TrainerConfig {
  LossConfig loss;
  double learning_rate = 1e-3;
  double weight_decay = 0.0;
  double max_grad_norm = 1.0;
  int64_t batch_size = 8;  // pairs per step
  int64_t max_steps = 100;
  uint64_t seed = 0;       // shuffling order
};

// Runs DPO on a policy against a frozen copy of itself. Drive it one step() at a time (the
// studio's worker does, to pause between steps) or with train() (the CLI).
class Trainer {
 public:
  Trainer(LlamaForCausalLM policy, std::vector<TokenizedPair> pairs, int64_t pad_id, TrainerConfig config);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // One optimiser step over the next batch_size pairs (reshuffled each epoch).
  StepMetrics step();
  bool finished() const;
  int64_t steps_done() const;

  const TrainerConfig& config() const;
  LlamaForCausalLM& policy();
  LlamaForCausalLM& reference();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Called after every step; return false to stop.
using StepCallback = std::function<bool(const StepMetrics&)>;

// Steps until max_steps, the callback returns false, or *cancel becomes true (checked between
// steps, so a stop takes effect within one step). Returns the number of steps run.
int64_t train(Trainer& trainer, const StepCallback& on_step, const std::atomic<bool>* cancel = nullptr);

}  // namespace dpo
