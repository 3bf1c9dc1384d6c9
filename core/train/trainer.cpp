#include "core/train/trainer.h"

#include <torch/torch.h>

#include <numeric>
#include <random>

#include "core/data/collator.h"
#include "core/runtime/error.h"
#include "core/train/pair_logps.h"
#include "core/train/reference.h"

namespace dpo {

struct Trainer::State {
  State(LlamaForCausalLM p, std::vector<TokenizedPair> data, int64_t pad, TrainerConfig c)
      : policy(std::move(p)),
        reference(make_frozen_reference(policy)),
        pairs(std::move(data)),
        pad_id(pad),
        config(c),
        optimizer(policy->parameters(),
                  torch::optim::AdamWOptions(c.learning_rate).weight_decay(c.weight_decay)),
        rng(c.seed),
        started(std::chrono::steady_clock::now()) {}

  LlamaForCausalLM policy;
  LlamaForCausalLM reference;
  std::vector<TokenizedPair> pairs;
  int64_t pad_id;
  TrainerConfig config;
  torch::optim::AdamW optimizer;
  std::mt19937_64 rng;
  std::vector<size_t> order;
  size_t cursor = 0;
  int64_t epoch = -1;
  int64_t step = 0;
  int64_t tokens = 0;
  std::chrono::steady_clock::time_point started;

  // The next batch of pair indices; a new shuffled epoch starts when the order runs out.
  std::vector<TokenizedPair> next_batch() {
    std::vector<TokenizedPair> batch;
    const auto want = static_cast<size_t>(std::min<int64_t>(config.batch_size, pairs.size()));
    while (batch.size() < want) {
      if (cursor >= order.size()) {
        order.resize(pairs.size());
        std::iota(order.begin(), order.end(), size_t{0});
        for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
        cursor = 0;
        ++epoch;
      }
      batch.push_back(pairs[order[cursor++]]);
    }
    return batch;
  }
};

Trainer::Trainer(LlamaForCausalLM policy, std::vector<TokenizedPair> pairs, int64_t pad_id,
                 TrainerConfig config) {
  if (pairs.empty()) throw ConfigError("trainer: no training pairs");
  if (config.batch_size < 1) throw ConfigError("trainer: batch_size must be >= 1");
  if (!(config.loss.beta > 0)) throw ConfigError("trainer: beta must be > 0");
  state_ = std::make_unique<State>(std::move(policy), std::move(pairs), pad_id, config);
  state_->policy->train();
}

Trainer::~Trainer() = default;

StepMetrics Trainer::step() {
  auto& s = *state_;
  const auto batch_pairs = s.next_batch();
  auto batch = collate_pairs(batch_pairs, s.pad_id);
  auto logps = batch_preference_logps(s.policy, s.reference, batch, s.config.loss);
  auto out = preference_loss(s.config.loss, logps);
  auto loss = out.losses.mean();

  s.optimizer.zero_grad();
  loss.backward();
  const double grad_norm =
      torch::nn::utils::clip_grad_norm_(s.policy->parameters(), s.config.max_grad_norm);
  s.optimizer.step();

  ++s.step;
  s.tokens += batch.attention_mask.sum().item<int64_t>();
  StepMetrics m;
  m.step = s.step;
  m.epoch = s.epoch;
  m.loss = loss.item<double>();
  m.rewards_chosen = out.chosen_rewards.mean().item<double>();
  m.rewards_rejected = out.rejected_rewards.mean().item<double>();
  m.rewards_margins = (out.chosen_rewards - out.rejected_rewards).mean().item<double>();
  m.rewards_accuracies = (out.chosen_rewards > out.rejected_rewards).to(torch::kFloat64).mean().item<double>();
  m.logps_chosen = logps.policy_chosen.detach().mean().item<double>();
  m.logps_rejected = logps.policy_rejected.detach().mean().item<double>();
  m.length_chosen = logps.chosen_tokens.mean().item<double>();
  m.length_rejected = logps.rejected_tokens.mean().item<double>();
  m.learning_rate = s.config.learning_rate;
  m.grad_norm = grad_norm;
  m.tokens = s.tokens;
  m.elapsed_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - s.started).count();
  return m;
}

bool Trainer::finished() const { return state_->step >= state_->config.max_steps; }
int64_t Trainer::steps_done() const { return state_->step; }
const TrainerConfig& Trainer::config() const { return state_->config; }
LlamaForCausalLM& Trainer::policy() { return state_->policy; }
LlamaForCausalLM& Trainer::reference() { return state_->reference; }

int64_t train(Trainer& trainer, const StepCallback& on_step, const std::atomic<bool>* cancel) {
  int64_t steps = 0;
  while (!trainer.finished()) {
    if (cancel != nullptr && cancel->load()) break;
    const auto metrics = trainer.step();
    ++steps;
    if (on_step && !on_step(metrics)) break;
  }
  return steps;
}

}  // namespace dpo
