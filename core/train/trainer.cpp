#include "core/train/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <sstream>

#include "core/data/collator.h"
#include "core/data/kto_rows.h"
#include "core/data/length_grouping.h"
#include "core/dist/communicator.h"
#include "core/dist/gradient_sync.h"
#include "core/eval/kto_eval.h"
#include "core/generate/generate.h"
#include "core/generate/stream.h"
#include "core/io/atomic_file.h"
#include "core/io/safetensors.h"
#include "core/io/state_dict.h"
#include "core/io/text_file.h"
#include "core/model/lora.h"
#include "core/runtime/error.h"
#include "core/runtime/fault.h"
#include "core/runtime/torch_compat.h"
#include "core/train/logprobs.h"
#include "core/train/optimizer_state.h"
#include "core/train/pair_logps.h"
#include "core/train/reference.h"
#include "core/train/step_sums.h"
#include "core/train/trainer_state.h"
#include "core/types/checkpoint_paths.h"

namespace dpo {

namespace fs = std::filesystem;

namespace {

bool uses_term(const LossConfig& loss, LossType type) {
  for (const auto& t : loss_terms(loss))
    if (t.type == type) return true;
  return false;
}

double mean_of(const torch::Tensor& t) { return t.detach().to(torch::kFloat64).mean().item<double>(); }

void validate(const TrainerInputs& in, const TrainerConfig& c) {
  // max_steps 0: an evaluation only (dpo eval), which may have no training pairs.
  if (in.train_pairs.empty() && c.max_steps > 0) throw ConfigError("trainer: no training pairs");
  if (c.batch_size < 1) throw ConfigError("trainer: batch size must be >= 1");
  if (c.grad_accumulation < 1) throw ConfigError("trainer: gradient accumulation must be >= 1");
  if (c.max_steps < 0) throw ConfigError("trainer: steps must be >= 0");
  if (!(c.loss.beta > 0)) throw ConfigError("trainer: beta must be > 0");
  if (!(c.learning_rate > 0)) throw ConfigError("trainer: learning rate must be > 0");
  if (c.warmup_steps < 0) throw ConfigError("trainer: warmup steps must be >= 0");
  if (c.sync_reference_every < 0 || !(c.sync_reference_alpha >= 0 && c.sync_reference_alpha <= 1))
    throw ConfigError("trainer: reference sync needs every >= 0 and alpha in [0, 1]");
  if (c.objective == Objective::Preference) {
    const bool kto = !in.train_desirable.empty();
    for (const auto& t : loss_terms(c.loss)) {
      if (!loss_info(t.type).paired && !kto)
        throw ConfigError("trainer: loss '" + std::string(loss_info(t.type).name) +
                          "' needs unpaired (prompt, completion, label) examples");
      if (kto && t.type != LossType::Kto)
        throw ConfigError("trainer: unpaired (prompt, completion, label) data needs the kto loss");
    }
    if (kto && (c.loss.wpo_weighting || c.loss.ld_alpha != 1.0))
      throw ConfigError("trainer: --wpo and --ld-alpha weigh preference pairs; kto has none");
    if (kto && in.train_desirable.size() != in.train_pairs.size())
      throw ConfigError("trainer: one label per KTO training example expected");
    if (kto && in.eval_desirable.size() != in.eval_pairs.size())
      throw ConfigError("trainer: one label per KTO eval example expected");
  }
  if (!in.train_margins.empty() && in.train_margins.size() != in.train_pairs.size())
    throw ConfigError("trainer: one margin per training pair expected");
  if (!in.eval_margins.empty() && in.eval_margins.size() != in.eval_pairs.size())
    throw ConfigError("trainer: one margin per eval pair expected");
  if (in.communicator && in.communicator->world_size() > 1) {
    const int world = in.communicator->world_size();
    if (c.max_steps > 0 && in.train_pairs.size() < static_cast<size_t>(world))
      throw ConfigError("trainer: " + std::to_string(in.train_pairs.size()) + " training pairs cannot feed " +
                        std::to_string(world) + " processes");
    // Both estimate a batch-level quantity inside the loss (KTO's z0, bco_pair's running δ) that
    // each process would see only its share of: the update would differ from one process's.
    if (c.objective == Objective::Preference &&
        (!in.train_desirable.empty() || uses_term(c.loss, LossType::BcoPair)))
      throw ConfigError(
          "trainer: the kto and bco_pair losses run in one process only (their batch statistics "
          "are not shared across processes)");
  }
  if (c.objective == Objective::Preference && uses_term(c.loss, LossType::Margin) && in.train_margins.empty())
    throw ConfigError(
        "trainer: the margin loss needs per-pair scores (score_chosen / score_rejected in the data)");
}

// Autocast for the forward passes of a step (torch.autocast("cuda", dtype=torch.bfloat16)).
class Bf16Autocast {
 public:
  Bf16Autocast() : was_(compat::cuda_autocast_enabled()), dtype_(compat::cuda_autocast_dtype()) {
    compat::set_cuda_autocast(true, at::kBFloat16);
  }
  ~Bf16Autocast() {
    compat::set_cuda_autocast(was_, dtype_);
    at::autocast::clear_cache();
  }
  Bf16Autocast(const Bf16Autocast&) = delete;
  Bf16Autocast& operator=(const Bf16Autocast&) = delete;

 private:
  bool was_;
  at::ScalarType dtype_;
};

// TRL's RunningMoments mean of the batch-mean rewards: bco_pair's δ.
struct RunningMean {
  double mean = 0;
  int64_t count = 0;
  void add(double value) {
    ++count;
    mean += (value - mean) / static_cast<double>(count);
  }
};

// One step's micro-batches, collated before the first forward: the step's loss is a mean over all
// its pairs (or, for SFT, all its chosen tokens), so each micro-batch's share is known up front.
struct MicroBatches {
  std::vector<std::vector<size_t>> indices;  // the training pairs of each micro-batch
  std::vector<PreferenceBatch> batches;
  double pairs = 0;
  double sft_tokens = 0;  // chosen response tokens: SFT's denominator
  int64_t tokens = 0;     // real tokens of both halves, no padding
};

struct Update {
  double grad_norm = 0;  // before clipping
  bool skipped = false;  // non-finite loss or gradient: no optimiser step
};

// SFT: the NLL of the chosen completions as its share of the step's per-token mean.
void sft_micro_step(LlamaForCausalLM& policy, const PreferenceBatch& b, double step_tokens,
                    int64_t chunk_rows, StepSums& sums) {
  // Only the chosen half: rows [0, B). (B, T)
  auto lp = model_response_logprobs(policy, b.input_ids.narrow(0, 0, b.pairs),
                                    b.attention_mask.narrow(0, 0, b.pairs),
                                    b.response_mask.narrow(0, 0, b.pairs), chunk_rows)
                .logps;
  auto nll = -lp.sum.sum();
  (nll / std::max(1.0, step_tokens)).backward();
  sums.add_sft(nll, lp);
}

// KTO on (B) labelled rows.
void kto_micro_step(const BatchLogps& out, const torch::Tensor& labels, const LossConfig& loss,
                    double step_pairs, StepSums& sums) {
  // rows' "rejected" half is the mismatched completion: only the (detached) KL estimate reads it.
  auto ko = kto_loss(kto_config(loss), out.logps.policy_chosen, out.logps.reference_chosen, labels,
                     out.logps.policy_rejected.detach(), out.logps.reference_rejected);
  (ko.losses.sum() / step_pairs).backward();
  sums.add_kto(ko, labels, out);
}

// A loss of the table; `margins` (B) fp64 or undefined. bco_pair updates its running δ first.
void preference_micro_step(BatchLogps& out, const torch::Tensor& margins, LossConfig loss, RunningMean& bco,
                           double step_pairs, StepSums& sums) {
  if (margins.defined())
    out.logps.margin = margins.to(out.logps.policy_chosen.device(), out.logps.policy_chosen.scalar_type());
  if (uses_term(loss, LossType::BcoPair)) {
    // TRL: δ is the running mean of the batch-mean rewards, updated before the loss.
    auto a = out.logps.policy_chosen.detach() - out.logps.reference_chosen;
    auto b = out.logps.policy_rejected.detach() - out.logps.reference_rejected;
    bco.add(mean_of(torch::cat({loss.beta * a, loss.beta * b})));
    loss.bco_delta = bco.mean;
  }
  auto lo = preference_loss(loss, out.logps);
  (lo.losses.sum() / step_pairs).backward();
  sums.add(lo.losses, lo, out);
}

}  // namespace

struct Trainer::State {
  TrainerConfig config;
  LlamaForCausalLM policy{nullptr};
  LlamaForCausalLM reference{nullptr};
  std::vector<TokenizedPair> train_pairs, eval_pairs;
  std::vector<double> train_margins, eval_margins;
  std::vector<bool> train_desirable, eval_desirable;  // KTO labels; empty for pairs
  bool kto() const { return !train_desirable.empty(); }
  int64_t pad_id = 0;
  std::optional<int64_t> eos_id;
  fs::path cache_dir;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  std::shared_ptr<dist::Communicator> comm;       // null: one process
  std::unique_ptr<dist::GradientSync> grad_sync;  // with comm, world > 1
  int world() const { return comm ? comm->world_size() : 1; }
  int rank() const { return comm ? comm->rank() : 0; }

  std::mt19937_64 rng;
  std::vector<size_t> order;
  size_t cursor = 0;
  int64_t epoch = -1;
  int64_t step = 0;
  int64_t tokens = 0;
  int64_t consecutive_nonfinite = 0;
  int64_t epoch_slots = 0, epoch_padded = 0;  // token slots and padded slots batched this epoch
  RunningMean bco;
  double elapsed_before = 0;  // seconds of earlier sessions (resume)
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  bool lora = false;  // the policy carries adapters; without a reference folder, its base is π_ref
  bool prepared = false;
  std::optional<ReferenceLogps> train_reference, eval_reference;
  TrainerCounters counters;

  bool wants_reference() const {
    return config.objective == Objective::Preference && needs_reference(config.loss);
  }

  LlamaForCausalLM* reference_model() {
    if (reference) return &reference;
    if (lora && wants_reference()) return &policy;
    return nullptr;
  }

  std::vector<size_t> next_indices() {
    std::vector<size_t> batch;
    // The whole step's micro-batch across ranks: every rank draws the same, then takes its share.
    const int64_t global_batch = config.batch_size * world();
    const auto want =
        static_cast<size_t>(std::min<int64_t>(global_batch, static_cast<int64_t>(train_pairs.size())));
    while (batch.size() < want) {
      if (cursor >= order.size()) {
        order.resize(train_pairs.size());
        std::iota(order.begin(), order.end(), size_t{0});
        for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
        if (config.group_by_length) group_by_length(order, row_lengths(), static_cast<size_t>(global_batch));
        cursor = 0;
        ++epoch;
        epoch_slots = epoch_padded = 0;
      }
      batch.push_back(order[cursor++]);
    }
    return batch;
  }

  // Longest row of each pair: prompt + the longer completion.
  std::vector<int64_t> row_lengths() const {
    std::vector<int64_t> out;
    out.reserve(train_pairs.size());
    for (const auto& p : train_pairs)
      out.push_back(
          static_cast<int64_t>(p.prompt_ids.size() + std::max(p.chosen_ids.size(), p.rejected_ids.size())));
    return out;
  }

  PreferenceBatch collate(const std::vector<size_t>& indices) const {
    std::vector<TokenizedPair> pairs;
    pairs.reserve(indices.size());
    for (auto i : indices) pairs.push_back(train_pairs[i]);
    return collate_pairs(pairs, pad_id, config.pad_to_multiple_of);
  }

  torch::Device device() const { return policy->parameters().front().device(); }

  MicroBatches next_micro_batches() {
    MicroBatches mb;
    for (int64_t k = 0; k < config.grad_accumulation; ++k) {
      auto indices = next_indices();
      const auto [begin, end] = dist::shard_range(indices.size(), rank(), world());
      mb.indices.emplace_back(indices.begin() + static_cast<std::ptrdiff_t>(begin),
                              indices.begin() + static_cast<std::ptrdiff_t>(end));
      mb.batches.push_back(collate(mb.indices.back()));
    }
    // The step's counts over every rank: each rank's loss is its share of the global mean.
    double counts[5] = {0, 0, 0, 0, 0};  // pairs, SFT tokens, real tokens, slots, padded slots
    for (const auto& b : mb.batches) {
      counts[0] += static_cast<double>(b.pairs);
      const auto real = b.attention_mask.sum().item<int64_t>();
      counts[2] += static_cast<double>(real);
      counts[3] += static_cast<double>(b.attention_mask.numel());
      counts[4] += static_cast<double>(b.attention_mask.numel() - real);
      if (config.objective == Objective::Sft)
        counts[1] += b.response_mask.narrow(0, 0, b.pairs)
                         .narrow(1, 1, b.response_mask.size(1) - 1)
                         .sum()
                         .item<double>();
    }
    if (world() > 1) {
      auto t = torch::tensor(std::vector<double>(counts, counts + 5), torch::kFloat64);  // (5)
      comm->all_reduce_sum(t);
      for (int i = 0; i < 5; ++i) counts[i] = t[i].item<double>();
    }
    mb.pairs = counts[0];
    mb.sft_tokens = counts[1];
    mb.tokens = static_cast<int64_t>(counts[2]);
    epoch_slots += static_cast<int64_t>(counts[3]);
    epoch_padded += static_cast<int64_t>(counts[4]);
    return mb;
  }

  // π_ref for some rows: their precomputed sums when there are, else a forward pass of the model.

  // Clips the gradient and steps the optimiser, or skips a non-finite step: an event, and a
  // TrainingError after max_nonfinite_steps in a row.
  Update update(double loss, const MicroBatches& mb, const TrainerCallbacks& callbacks) {
    const double max_norm =
        config.max_grad_norm > 0 ? config.max_grad_norm : std::numeric_limits<double>::infinity();
    Update u;
    u.grad_norm = torch::nn::utils::clip_grad_norm_(policy->parameters(), max_norm);
    u.skipped = !std::isfinite(loss) || !std::isfinite(u.grad_norm);
    if (!u.skipped) {
      optimizer->step();
      consecutive_nonfinite = 0;
      return u;
    }
    optimizer->zero_grad();
    ++consecutive_nonfinite;
    TrainerEvent event{.step = step + 1, .kind = "nonfinite"};
    for (const auto& indices : mb.indices)
      for (auto i : indices) event.pair_lines.push_back(train_pairs[i].line);
    event.message = "step " + std::to_string(event.step) + " skipped: loss " + std::to_string(loss) +
                    ", gradient norm " + std::to_string(u.grad_norm) + " (not finite)";
    if (callbacks.on_event) callbacks.on_event(event);
    if (consecutive_nonfinite >= config.max_nonfinite_steps) {
      std::string lines;
      for (size_t i = 0; i < std::min<size_t>(event.pair_lines.size(), 8); ++i)
        lines += (i ? "," : "") + std::to_string(event.pair_lines[i]);
      throw TrainingError("training stopped: " + std::to_string(consecutive_nonfinite) +
                          " consecutive steps with a non-finite loss or gradient (last at step " +
                          std::to_string(event.step) + ", pairs on lines " + lines +
                          "); lower the learning rate or beta, or check those pairs");
    }
    return u;
  }

  // TR-DPO: every τ steps π_ref ← α·π + (1 − α)·π_ref.
  void sync_reference(const TrainerCallbacks& callbacks) {
    const int64_t every = config.sync_reference_every;
    const double alpha = config.sync_reference_alpha;
    if (every <= 0 || !reference || step % every != 0) return;
    {
      torch::NoGradGuard no_grad;
      auto source = policy->named_parameters();
      for (auto& p : reference->named_parameters()) p.value().mul_(1.0 - alpha).add_(source[p.key()], alpha);
    }
    if (callbacks.on_event)
      callbacks.on_event({.step = step,
                          .kind = "reference_sync",
                          .message = "reference ← " + std::to_string(alpha) + "·policy + " +
                                     std::to_string(1.0 - alpha) + "·reference"});
  }

  StepMetrics metrics(const StepSums& sums, const MicroBatches& mb, double loss, const Update& u, double lr,
                      std::chrono::steady_clock::time_point step_started) const {
    const double n = mb.pairs;
    // KTO: chosen-side means over desirable examples, rejected-side over undesirable ones.
    const double nc = kto() ? std::max(1.0, sums.desirable) : n,
                 nr = kto() ? std::max(1.0, sums.undesirable) : n;
    StepMetrics m;
    m.skipped = u.skipped;
    m.step = step;
    m.epoch = epoch;
    m.loss = loss;
    sums.side_means(nc, nr, m);
    m.rewards_margins =
        kto() ? m.rewards_chosen - m.rewards_rejected : (sums.rewards_chosen - sums.rewards_rejected) / n;
    m.rewards_accuracies = sums.accurate / n;
    m.kl = sums.kl / static_cast<double>(mb.batches.size() * static_cast<size_t>(world()));
    m.padding_ratio =
        epoch_slots > 0 ? static_cast<double>(epoch_padded) / static_cast<double>(epoch_slots) : 0.0;
    m.learning_rate = lr;
    m.beta = config.loss.beta;
    m.grad_norm = u.grad_norm;
    m.tokens = tokens;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - step_started).count();
    m.tokens_per_second = seconds > 0 ? static_cast<double>(mb.tokens) / seconds : 0.0;
    m.elapsed_seconds = elapsed();
    return m;
  }

  double elapsed() const {
    return elapsed_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }
};

Trainer::Trainer(LlamaForCausalLM policy, std::vector<TokenizedPair> pairs, int64_t pad_id,
                 TrainerConfig config)
    : Trainer(TrainerInputs{.policy = std::move(policy), .train_pairs = std::move(pairs), .pad_id = pad_id},
              config) {}

Trainer::Trainer(TrainerInputs in, TrainerConfig config) {
  validate(in, config);
  state_ = std::make_unique<State>();
  auto& s = *state_;
  s.config = config;
  s.policy = in.policy;
  s.train_pairs = std::move(in.train_pairs);
  s.eval_pairs = std::move(in.eval_pairs);
  s.train_margins = std::move(in.train_margins);
  s.eval_margins = std::move(in.eval_margins);
  s.train_desirable = std::move(in.train_desirable);
  s.eval_desirable = std::move(in.eval_desirable);
  s.pad_id = in.pad_id;
  s.eos_id = in.eos_id;
  s.cache_dir = in.reference_cache_dir;
  s.rng.seed(config.seed);
  s.comm = in.communicator;
  s.lora = has_lora(s.policy);
  if (s.lora && config.sync_reference_every > 0)
    throw ConfigError("trainer: reference sync (TR-DPO) needs a separate reference model, not LoRA's base");
  std::vector<torch::Tensor> trainable;
  for (const auto& p : s.policy->parameters())
    if (p.requires_grad()) trainable.push_back(p);
  if (s.world() > 1) {
    // Rank 0's starting weights everywhere (as DDP does), before the frozen reference copies them.
    s.grad_sync = std::make_unique<dist::GradientSync>(s.comm, trainable);
    s.grad_sync->broadcast_parameters();
  }
  if (s.wants_reference()) {
    if (in.reference) {
      s.reference = in.reference;
      for (auto& p : s.reference->parameters()) p.set_requires_grad(false);
      s.reference->eval();
    } else if (!s.lora) {
      s.reference = make_frozen_reference(s.policy);
    }
  }
  s.optimizer =
      std::make_unique<torch::optim::AdamW>(trainable, torch::optim::AdamWOptions(config.learning_rate)
                                                           .betas({config.adam_beta1, config.adam_beta2})
                                                           .eps(config.adam_epsilon)
                                                           .weight_decay(config.weight_decay));
  s.policy->train();
}

Trainer::~Trainer() = default;

void Trainer::prepare(const TrainerCallbacks& callbacks) {
  auto& s = *state_;
  if (s.prepared) return;
  s.prepared = true;
  if (!s.wants_reference() || !s.config.precompute_reference || s.config.sync_reference_every > 0) return;
  auto& reference = *s.reference_model();
  const uint64_t model_hash = parameters_fingerprint(reference);
  auto load_or_compute = [&](const std::vector<TokenizedPair>& pairs, const char* stage) {
    std::optional<ReferenceLogps> out;
    if (pairs.empty()) return out;
    fs::path path;
    if (!s.cache_dir.empty()) {
      path = reference_cache_path(s.cache_dir, model_hash, pairs_fingerprint(pairs));
      out = read_reference_cache(path, pairs.size());
      // Every rank takes the cache, or none does: they must all join the sharded pass below.
      if (s.world() > 1) {
        auto hits = torch::tensor({out ? 1.0 : 0.0}, torch::kFloat64);
        s.comm->all_reduce_sum(hits);
        if (hits.item<double>() < s.world()) out.reset();
      }
      if (out) {
        s.counters.reference_from_cache = true;
        return out;
      }
    }
    auto progress = [&](size_t done, size_t total) {
      return !callbacks.on_progress || callbacks.on_progress(stage, done, total);
    };
    if (s.world() == 1) {
      out = compute_reference_logps(reference, pairs, s.pad_id, s.config.eval_batch_size, progress,
                                    s.config.logit_chunk_rows);
      s.counters.reference_precomputed += static_cast<int64_t>(pairs.size());
    } else {
      // Each rank scores its contiguous share; a sum of (2, N) tables, zero outside each share,
      // gathers them.
      const auto [begin, end] = dist::shard_range(pairs.size(), s.rank(), s.world());
      const std::vector<TokenizedPair> share(pairs.begin() + static_cast<std::ptrdiff_t>(begin),
                                             pairs.begin() + static_cast<std::ptrdiff_t>(end));
      // Progress in all the pairs, as this rank's share of them goes.
      auto share_progress = [&](size_t done, size_t total) {
        return progress(total == 0 ? pairs.size() : done * pairs.size() / total, pairs.size());
      };
      const auto mine = compute_reference_logps(reference, share, s.pad_id, s.config.eval_batch_size,
                                                share_progress, s.config.logit_chunk_rows);
      auto table = torch::zeros({2, static_cast<int64_t>(pairs.size())}, torch::kFloat32);  // (2, N)
      for (size_t i = 0; i < share.size(); ++i) {
        table[0][static_cast<int64_t>(begin + i)] = mine.chosen[i];
        table[1][static_cast<int64_t>(begin + i)] = mine.rejected[i];
      }
      s.comm->all_reduce_sum(table);
      const auto* v = table.data_ptr<float>();
      out.emplace();
      out->chosen.assign(v, v + pairs.size());
      out->rejected.assign(v + pairs.size(), v + 2 * pairs.size());
      s.counters.reference_precomputed += static_cast<int64_t>(share.size());
    }
    if (!path.empty() && s.rank() == 0) write_reference_cache(path, *out);
    return out;
  };
  s.train_reference = load_or_compute(s.train_pairs, "reference log-probs (train)");
  s.eval_reference = load_or_compute(s.eval_pairs, "reference log-probs (eval)");
}

StepMetrics Trainer::step(const TrainerCallbacks& callbacks) {
  auto& s = *state_;
  prepare(callbacks);
  const auto started = std::chrono::steady_clock::now();
  const auto& c = s.config;
  const double lr = scheduled_learning_rate(c.learning_rate, s.step, c.warmup_steps, c.max_steps, c.schedule);
  for (auto& group : s.optimizer->param_groups())
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  s.optimizer->zero_grad();
  const auto mb = s.next_micro_batches();

  StepSums sums;
  const auto device = s.device();
  std::optional<Bf16Autocast> autocast;
  if (c.bf16_autocast && device.is_cuda()) autocast.emplace();
  const ReferenceLogps* precomputed = s.train_reference ? &*s.train_reference : nullptr;
  for (size_t k = 0; k < mb.batches.size(); ++k) {
    const auto& rows = mb.indices[k];
    // Only the last micro-batch's backward communicates; the others accumulate locally.
    if (s.grad_sync && k + 1 == mb.batches.size()) s.grad_sync->arm();
    if (c.objective == Objective::Sft) {
      sft_micro_step(s.policy, mb.batches[k], mb.sft_tokens, c.logit_chunk_rows, sums);
      continue;
    }
    auto out = batch_preference_logps(s.policy, reference_for_rows(s.reference_model(), precomputed, rows),
                                      mb.batches[k], c.loss, c.logit_chunk_rows);
    if (out.ran_reference) ++s.counters.reference_forwards;
    if (s.kto())
      kto_micro_step(out, labels_of(s.train_desirable, rows).to(device), c.loss, mb.pairs, sums);
    else
      preference_micro_step(out, s.train_margins.empty() ? torch::Tensor() : rows_of(s.train_margins, rows),
                            c.loss, s.bco, mb.pairs, sums);
  }
  if (s.grad_sync) s.grad_sync->finish();
  sums.settle();
  std::vector<double> rank_throughput;
  if (s.world() > 1) {
    // One reduction of the step's sums, with each rank's own throughput in its slot.
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    double local_tokens = 0;
    for (const auto& b : mb.batches) local_tokens += b.attention_mask.sum().item<double>();
    const auto fields = sums.fields();
    std::vector<double> values;
    for (auto* f : fields) values.push_back(*f);
    values.resize(fields.size() + static_cast<size_t>(s.world()), 0.0);
    values[fields.size() + static_cast<size_t>(s.rank())] = seconds > 0 ? local_tokens / seconds : 0.0;
    auto t = torch::tensor(values, torch::kFloat64);  // (13 + world)
    s.comm->all_reduce_sum(t);
    for (size_t i = 0; i < fields.size(); ++i) *fields[i] = t[static_cast<int64_t>(i)].item<double>();
    for (int r = 0; r < s.world(); ++r)
      rank_throughput.push_back(t[static_cast<int64_t>(fields.size()) + r].item<double>());
  }
  const double loss = sums.loss / (c.objective == Objective::Sft ? std::max(1.0, mb.sft_tokens) : mb.pairs);
  fault_point("step", s.step + 1);
  const auto update = s.update(loss, mb, callbacks);
  ++s.step;
  s.tokens += mb.tokens;
  if (!update.skipped) s.sync_reference(callbacks);
  auto metrics = s.metrics(sums, mb, loss, update, lr, started);
  metrics.rank_tokens_per_second = std::move(rank_throughput);
  return metrics;
}

PreferenceEval Trainer::evaluate() {
  auto& s = *state_;
  prepare();
  PreferenceEval result;
  if (!s.eval_pairs.empty()) {
    if (s.kto()) {
      result =
          evaluate_kto(s.policy, s.reference_model(), s.eval_pairs, s.eval_desirable, s.pad_id, s.config.loss,
                       s.config.eval_batch_size, s.eval_reference ? &*s.eval_reference : nullptr);
    } else if (s.config.objective == Objective::Sft) {
      auto loss = s.config.loss;
      loss.type = LossType::Cpo;  // reads no reference; its NLL part is not reported, only log-probs
      loss.terms.clear();
      result =
          evaluate_preferences(s.policy, nullptr, s.eval_pairs, s.pad_id, loss, s.config.eval_batch_size);
      result.mean_loss = -result.logps_chosen / std::max(1.0, result.length_chosen);
    } else {
      result = evaluate_preferences(s.policy, s.reference_model(), s.eval_pairs, s.pad_id, s.config.loss,
                                    s.config.eval_batch_size, s.eval_reference ? &*s.eval_reference : nullptr,
                                    s.eval_margins);
    }
    if (s.config.measure_sampled_length && s.config.sample_prompts > 0) {
      std::vector<std::vector<int64_t>> prompts;
      for (size_t i = 0;
           i < s.eval_pairs.size() && static_cast<int64_t>(prompts.size()) < s.config.sample_prompts; ++i)
        prompts.push_back(s.eval_pairs[i].prompt_ids);
      GenerationConfig g;
      g.max_new_tokens = s.config.sample_max_new_tokens;
      g.temperature = 1.0;
      g.seed = s.config.seed;
      if (s.eos_id) g.stop_token_ids.push_back(*s.eos_id);
      const bool was_training = s.policy->is_training();
      auto answers = generate(s.policy, prompts, s.pad_id, g);
      if (was_training) s.policy->train();
      double total = 0;
      for (const auto& a : answers) total += static_cast<double>(a.tokens.size());
      result.sampled_length = total / static_cast<double>(answers.size());
      if (auto* reference = s.reference_model(); reference && !answers.empty()) {
        // Monte Carlo KL(π‖π_ref): the answers are samples of π (temperature 1).
        double kl = 0;
        for (size_t i = 0; i < answers.size(); ++i) {
          const double policy_logp = answer_logp(s.policy, prompts[i], answers[i].tokens);
          std::optional<AdaptersDisabled> base;
          if (reference->ptr() == s.policy.ptr()) base.emplace(s.policy);
          kl += policy_logp - answer_logp(*reference, prompts[i], answers[i].tokens);
        }
        result.sampled_kl = kl / static_cast<double>(answers.size());
      }
    }
  }
  result.step = s.step;
  result.beta = s.config.loss.beta;
  for (auto& r : result.pairs) r.step = s.step;
  return result;
}

bool Trainer::eval_due() const {
  const auto& s = *state_;
  return s.config.eval_every > 0 && !s.eval_pairs.empty() && s.step > 0 && s.step % s.config.eval_every == 0;
}
bool Trainer::finished() const { return state_->step >= state_->config.max_steps; }
int64_t Trainer::steps_done() const { return state_->step; }

TrainerEvent Trainer::set_beta(double beta) {
  if (!(beta > 0)) throw ConfigError("beta must be > 0");
  auto& s = *state_;
  TrainerEvent e{.step = s.step,
                 .kind = "beta",
                 .message = "beta " + std::to_string(s.config.loss.beta) + " -> " + std::to_string(beta) +
                            " after step " + std::to_string(s.step),
                 .value = beta};
  s.config.loss.beta = beta;
  return e;
}

TrainerEvent Trainer::set_learning_rate(double learning_rate) {
  if (!(learning_rate > 0)) throw ConfigError("learning rate must be > 0");
  auto& s = *state_;
  TrainerEvent e{.step = s.step,
                 .kind = "learning_rate",
                 .message = "learning rate " + std::to_string(s.config.learning_rate) + " -> " +
                            std::to_string(learning_rate) + " after step " + std::to_string(s.step),
                 .value = learning_rate};
  s.config.learning_rate = learning_rate;
  return e;
}

namespace {
NamedParameters trainable_parameters(LlamaForCausalLM& policy) {
  NamedParameters out;
  for (const auto& p : policy->named_parameters())
    if (p.value().requires_grad()) out.emplace_back(p.key(), p.value());
  return out;
}
}  // namespace

void Trainer::save_state(const fs::path& dir) const {
  auto& s = *state_;
  fs::create_directories(dir);
  save_adamw_state(*s.optimizer, trainable_parameters(s.policy), dir);
  // torch's CPU generator drives dropout (LoRA): part of what makes a resume exact.
  save_cpu_generator(dir);
  if (s.config.sync_reference_every > 0 && s.reference) {
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    for (const auto& p : s.reference->named_parameters()) tensors.emplace_back(p.key(), p.value());
    write_safetensors(dir / "reference.safetensors", tensors);
  }
  std::ostringstream rng;
  rng << s.rng;
  TrainerState state{.step = s.step,
                     .epoch = s.epoch,
                     .cursor = s.cursor,
                     .data_order = s.order,
                     .rng = rng.str(),
                     .tokens = s.tokens,
                     .consecutive_nonfinite = s.consecutive_nonfinite,
                     .epoch_slots = s.epoch_slots,
                     .epoch_padded = s.epoch_padded,
                     .bco_mean = s.bco.mean,
                     .bco_count = s.bco.count,
                     .beta = s.config.loss.beta,
                     .learning_rate = s.config.learning_rate,
                     .elapsed_seconds = s.elapsed(),
                     .train_pairs = s.train_pairs.size(),
                     .world_size = s.world()};
  // Written last: its presence marks the checkpoint complete.
  write_file_atomically(dir / "trainer_state.json", trainer_state_json(state).dump(1) + "\n");
}

void Trainer::load_state(const fs::path& dir) {
  auto& s = *state_;
  const auto path = dir / "trainer_state.json";
  if (!fs::exists(path)) throw TrainingError(path.string() + ": missing");
  if (fs::file_size(path) > (uintmax_t{1} << 30)) throw TrainingError(path.string() + ": larger than 1 GB");
  // Every file is read and checked before anything of the trainer changes.
  const auto state = parse_trainer_state(read_text(path), path.string(), s.train_pairs.size());
  if (state.world_size != s.world())
    throw TrainingError(path.string() + ": written by a run of " + std::to_string(state.world_size) +
                        " process" + (state.world_size == 1 ? "" : "es") + ", this one has " +
                        std::to_string(s.world()) + ": resume with --nproc " +
                        std::to_string(state.world_size));
  if (dir.filename().string().rfind(kCheckpointPrefix, 0) == 0 && checkpoint_step(dir) != state.step)
    throw TrainingError(path.string() + ": step " + std::to_string(state.step) +
                        " does not match its folder " + dir.filename().string());
  std::optional<std::shared_ptr<SafetensorsFile>> reference_file;
  if (s.config.sync_reference_every > 0 && s.reference) {
    try {
      reference_file = SafetensorsFile::open(dir / "reference.safetensors");
    } catch (const Error& e) {
      throw TrainingError(e.what());
    }
  }
  load_adamw_state(*s.optimizer, trainable_parameters(s.policy), dir);
  load_cpu_generator(dir);
  if (reference_file) {
    torch::NoGradGuard no_grad;
    load_parameters(*s.reference, StateDict::from_files({*reference_file}), torch::kFloat32,
                    s.reference->parameters().front().device());
  }
  s.step = state.step;
  s.epoch = state.epoch;
  s.cursor = state.cursor;
  s.order = state.data_order;
  std::istringstream rng(state.rng);
  rng >> s.rng;
  s.tokens = state.tokens;
  s.consecutive_nonfinite = state.consecutive_nonfinite;
  s.epoch_slots = state.epoch_slots;
  s.epoch_padded = state.epoch_padded;
  s.bco.mean = state.bco_mean;
  s.bco.count = state.bco_count;
  s.config.loss.beta = state.beta;
  s.config.learning_rate = state.learning_rate;
  s.elapsed_before = state.elapsed_seconds;
  s.started = std::chrono::steady_clock::now();
}

const TrainerConfig& Trainer::config() const { return state_->config; }
const TrainerCounters& Trainer::counters() const { return state_->counters; }
int Trainer::world_size() const { return state_->world(); }
double Trainer::gradient_wait_seconds() const {
  return state_->grad_sync ? state_->grad_sync->wait_seconds() : 0.0;
}
std::vector<int64_t> Trainer::gradient_buckets() const {
  return state_->grad_sync ? state_->grad_sync->bucket_bytes() : std::vector<int64_t>{};
}
const std::vector<TokenizedPair>& Trainer::eval_pairs() const { return state_->eval_pairs; }
LlamaForCausalLM& Trainer::policy() { return state_->policy; }
LlamaForCausalLM* Trainer::reference() { return state_->reference_model(); }

bool Trainer::stop_agreed(bool stop) {
  if (state_->world() == 1) return stop;
  auto t = torch::tensor({stop ? 1.0 : 0.0}, torch::kFloat64);
  state_->comm->all_reduce_sum(t);
  return t.item<double>() > 0;
}

int64_t train(Trainer& trainer, const TrainerCallbacks& callbacks, const std::atomic<bool>* cancel) {
  int64_t steps = 0;
  trainer.prepare(callbacks);
  while (!trainer.finished()) {
    if (trainer.stop_agreed(cancel != nullptr && cancel->load())) break;
    const auto metrics = trainer.step(callbacks);
    ++steps;
    const bool go_on = !callbacks.on_step || callbacks.on_step(metrics);
    if (trainer.eval_due() && callbacks.on_eval) callbacks.on_eval(trainer.evaluate());
    if (!go_on) break;
  }
  return steps;
}

int64_t train(Trainer& trainer, const std::function<bool(const StepMetrics&)>& on_step,
              const std::atomic<bool>* cancel) {
  return train(trainer, TrainerCallbacks{.on_step = on_step}, cancel);
}

}  // namespace dpo
