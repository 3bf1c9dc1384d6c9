// Data parallel on c10d (issue 16): ranks run as threads of this test, each with its own TCPStore
// client and Gloo process group on 127.0.0.1, as separate processes would.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <functional>
#include <thread>

#include "core/dist/communicator.h"
#include "core/dist/gradient_sync.h"
#include "core/model/lora.h"
#include "core/runtime/error.h"
#include "training_fixtures.h"

namespace {

using dpo::dist::Communicator;
using dpo::dist::DistConfig;
using namespace dpo_test;

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t n = sizeof(a);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n);
  ::close(fd);
  return ntohs(a.sin_port);
}

// fn(rank, communicator) on `world` threads; rethrows the first rank's failure.
void run_ranks(int world, const std::function<void(int, std::shared_ptr<Communicator>)>& fn,
               double timeout_seconds = 60) {
  const int port = free_port();
  std::vector<std::exception_ptr> errors(static_cast<size_t>(world));
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r)
    threads.emplace_back([&, r] {
      try {
        DistConfig c;
        c.rank = r;
        c.world_size = world;
        c.master_port = port;
        c.timeout_seconds = timeout_seconds;
        fn(r, Communicator::connect(c, torch::kCPU));
      } catch (...) {
        errors[static_cast<size_t>(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

// One rank's inputs: its policy, every training pair (the trainer takes the rank's share).
dpo::TrainerInputs rank_inputs(dpo::LlamaForCausalLM policy, const std::vector<dpo::TokenizedPair>& pairs,
                               std::shared_ptr<Communicator> comm) {
  dpo::TrainerInputs in;
  in.policy = std::move(policy);
  in.train_pairs = pairs;
  in.pad_id = kPad;
  in.communicator = std::move(comm);
  return in;
}

std::vector<torch::Tensor> weights_of(dpo::LlamaForCausalLM& model) {
  std::vector<torch::Tensor> out;
  for (const auto& p : model->parameters()) out.push_back(p.detach().clone());
  return out;
}

struct RunResult {
  std::vector<torch::Tensor> weights;
  std::vector<dpo::StepMetrics> metrics;
};

// `world` ranks (or one process without a communicator when world is 0) train `steps` steps. In
// float64 by default: the ranks sum in another order than one process does, and Adam turns that
// rounding (1e-7 in fp32) into weight differences of 1e-5 within a few steps; in fp64 what is left
// is the algorithm.
RunResult train_ranks(int world, dpo::TrainerConfig config, size_t pairs, int64_t lora_r = 0,
                      torch::Dtype dtype = torch::kFloat64) {
  // Policies are built before the threads: initialisation draws from torch's global generator.
  std::vector<dpo::LlamaForCausalLM> policies;
  for (int r = 0; r < std::max(world, 1); ++r) {
    policies.push_back(demo_policy());
    if (lora_r > 0) {
      torch::manual_seed(7);
      dpo::add_lora(policies.back(), {.r = lora_r, .alpha = 16, .dropout = 0.0});
    }
    policies.back()->to(dtype);
  }
  RunResult result;
  const auto train_pairs = demo_pairs(pairs);
  auto body = [&](int rank, std::shared_ptr<Communicator> comm) {
    auto in = rank_inputs(policies[static_cast<size_t>(rank)], train_pairs, std::move(comm));
    dpo::Trainer trainer(std::move(in), config);
    std::vector<dpo::StepMetrics> metrics;
    while (!trainer.finished()) metrics.push_back(trainer.step());
    if (rank == 0) {
      result.weights = weights_of(trainer.policy());
      result.metrics = metrics;
    }
  };
  if (world == 0)
    body(0, nullptr);
  else
    run_ranks(world, body);
  return result;
}

void expect_same_training(const RunResult& one, const RunResult& two, double tolerance = 1e-5) {
  ASSERT_EQ(one.metrics.size(), two.metrics.size());
  for (size_t i = 0; i < one.metrics.size(); ++i) {
    EXPECT_NEAR(one.metrics[i].loss, two.metrics[i].loss, 1e-5) << "step " << i + 1;
    EXPECT_NEAR(one.metrics[i].grad_norm, two.metrics[i].grad_norm, 1e-5) << "step " << i + 1;
    EXPECT_NEAR(one.metrics[i].rewards_accuracies, two.metrics[i].rewards_accuracies, 1e-9);
    EXPECT_EQ(one.metrics[i].tokens, two.metrics[i].tokens);
  }
  EXPECT_LT(max_abs_diff(one.weights, two.weights), tolerance);
}

}  // namespace

TEST(Distributed, ShardRangeSplitsEvenlyInRankOrder) {
  EXPECT_EQ(dpo::dist::shard_range(8, 0, 2), (std::pair<size_t, size_t>{0, 4}));
  EXPECT_EQ(dpo::dist::shard_range(8, 1, 2), (std::pair<size_t, size_t>{4, 8}));
  EXPECT_EQ(dpo::dist::shard_range(7, 0, 3), (std::pair<size_t, size_t>{0, 2}));
  EXPECT_EQ(dpo::dist::shard_range(7, 1, 3), (std::pair<size_t, size_t>{2, 4}));
  EXPECT_EQ(dpo::dist::shard_range(7, 2, 3), (std::pair<size_t, size_t>{4, 7}));
}

TEST(Distributed, ConfigFromTheEnvironmentTorchrunSets) {
  ::unsetenv("WORLD_SIZE");
  EXPECT_FALSE(dpo::dist::config_from_environment());
  ::setenv("WORLD_SIZE", "4", 1);
  ::setenv("RANK", "2", 1);
  ::setenv("LOCAL_RANK", "0", 1);
  ::setenv("MASTER_ADDR", "10.0.0.5", 1);
  ::setenv("MASTER_PORT", "29600", 1);
  auto c = dpo::dist::config_from_environment();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->world_size, 4);
  EXPECT_EQ(c->rank, 2);
  EXPECT_EQ(c->local_rank, 0);
  EXPECT_EQ(c->master_addr, "10.0.0.5");
  EXPECT_EQ(c->master_port, 29600);
  ::setenv("RANK", "4", 1);
  try {
    dpo::dist::config_from_environment();
    ADD_FAILURE() << "RANK 4 of 4 accepted";
  } catch (const dpo::ConfigError& e) {
    EXPECT_STREQ(e.what(), "environment: RANK='4': expected an integer in [0, 3]");
  }
  ::setenv("RANK", "1", 1);
  ::setenv("MASTER_PORT", "http", 1);
  EXPECT_THROW(dpo::dist::config_from_environment(), dpo::ConfigError);
  for (const char* v : {"WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"}) ::unsetenv(v);
}

TEST(Distributed, AllReduceSumsAndBroadcastCopiesRankZero) {
  run_ranks(3, [](int rank, std::shared_ptr<Communicator> comm) {
    auto t = torch::full({4}, static_cast<double>(rank + 1), torch::kFloat64);
    comm->all_reduce_sum(t);
    EXPECT_TRUE(torch::equal(t, torch::full({4}, 6.0, torch::kFloat64)));
    auto b = torch::full({2}, static_cast<float>(rank * 10 + 1));
    comm->broadcast(b, 0);
    EXPECT_TRUE(torch::equal(b, torch::full({2}, 1.0f)));
    EXPECT_EQ(comm->all_reduce_calls(), 1);
  });
}

// N ranks with batch b take the update of one process with batch N·b.
TEST(Distributed, TwoRanksGiveTheWeightsOfOneWithTheDoubledBatch) {
  auto config = demo_config(4);
  config.batch_size = 8;
  const auto one = train_ranks(0, config, 32);
  config.batch_size = 4;
  const auto two = train_ranks(2, config, 32);
  expect_same_training(one, two);
  // Training moved the weights far more than the tolerance.
  auto start = demo_policy();
  start->to(torch::kFloat64);
  EXPECT_GT(max_abs_diff(one.weights, weights_of(start)), 1e-3);
  ASSERT_EQ(two.metrics.back().rank_tokens_per_second.size(), 2u);
  EXPECT_GT(two.metrics.back().rank_tokens_per_second[1], 0);
  // The model's own fp32: rounding only.
  config.batch_size = 8;
  const auto one32 = train_ranks(0, config, 32, 0, torch::kFloat32);
  config.batch_size = 4;
  const auto two32 = train_ranks(2, config, 32, 0, torch::kFloat32);
  EXPECT_LT(max_abs_diff(one32.weights, two32.weights), 1e-4);
}

TEST(Distributed, GradientAccumulationCommunicatesOnTheLastMicroBatch) {
  auto config = demo_config(3);
  config.grad_accumulation = 2;
  config.batch_size = 6;
  const auto one = train_ranks(0, config, 30);
  config.batch_size = 3;
  expect_same_training(one, train_ranks(2, config, 30));
}

TEST(Distributed, LoraAdaptersTrainAlike) {
  auto config = demo_config(3);
  config.batch_size = 8;
  const auto one = train_ranks(0, config, 24, /*lora_r=*/4);
  config.batch_size = 4;
  expect_same_training(one, train_ranks(2, config, 24, 4));
}

TEST(Distributed, SftAveragesOverTheGlobalTokenCount) {
  auto config = demo_config(3);
  config.objective = dpo::Objective::Sft;
  config.batch_size = 8;
  const auto one = train_ranks(0, config, 24);
  config.batch_size = 4;
  expect_same_training(one, train_ranks(2, config, 24));
}

// One all-reduce per bucket per step, not one per parameter.
TEST(Distributed, GradientsTravelInBuckets) {
  auto policy_a = demo_policy(), policy_b = demo_policy();
  const auto params = policy_a->parameters().size();
  run_ranks(2, [&](int rank, std::shared_ptr<Communicator> comm) {
    auto& policy = rank == 0 ? policy_a : policy_b;
    // 64 KB buckets over a model of a few MB: several buckets, each of several parameters.
    dpo::dist::GradientSync sync(comm, policy->parameters(), 64 << 10);
    EXPECT_GT(sync.buckets(), 2u);
    EXPECT_LT(sync.buckets(), params);
    int64_t total = 0;
    for (auto b : sync.bucket_bytes()) total += b;
    int64_t expected = 0;
    for (const auto& p : policy->parameters()) expected += p.numel() * 4;
    EXPECT_EQ(total, expected);
    auto ids = torch::randint(4, 400, {2, 12}, torch::TensorOptions().dtype(torch::kLong));
    const auto before = comm->all_reduce_calls();
    sync.arm();
    policy->forward(ids, torch::ones_like(ids)).sum().backward();
    // Every bucket left during backward (the hooks); finish only waits.
    EXPECT_EQ(comm->all_reduce_calls() - before, static_cast<int64_t>(sync.buckets()));
    sync.finish();
    EXPECT_EQ(comm->all_reduce_calls() - before, static_cast<int64_t>(sync.buckets()));
  });
  // Both ranks drew their own ids: each gradient is now the sum of the two.
  for (size_t i = 0; i < params; ++i)
    EXPECT_TRUE(torch::equal(policy_a->parameters()[i].grad(), policy_b->parameters()[i].grad())) << i;
  // The models outlive their GradientSync: its hooks went with it (ASan would see a call into it).
  auto ids = torch::randint(4, 400, {1, 8}, torch::TensorOptions().dtype(torch::kLong));
  policy_a->forward(ids, torch::ones_like(ids)).sum().backward();

  // A trainer's step: the step's counts, its buckets, its metrics.
  auto config = demo_config(2);
  config.batch_size = 4;
  const auto pairs = demo_pairs(16);
  std::vector<dpo::LlamaForCausalLM> policies = {demo_policy(), demo_policy()};
  run_ranks(2, [&](int rank, std::shared_ptr<Communicator> comm) {
    auto in = rank_inputs(policies[static_cast<size_t>(rank)], pairs, comm);
    dpo::Trainer trainer(std::move(in), config);
    trainer.prepare();
    const auto before = comm->all_reduce_calls();
    trainer.step();
    EXPECT_EQ(trainer.gradient_buckets().size(), 1u);  // the demo model is smaller than 25 MB
    EXPECT_EQ(comm->all_reduce_calls() - before, 1 + 1 + 1);
  });
}

// A rank that stops resuming from a checkpoint continues bit for bit, and a checkpoint of 2 ranks
// refuses a different number.
TEST(Distributed, ResumeOfATwoRankRunIsBitExact) {
  TempDir dir;
  auto config = demo_config(4);
  config.batch_size = 4;
  const auto straight = train_ranks(2, config, 24, 0, torch::kFloat32);

  std::vector<std::vector<torch::Tensor>> saved(2);
  const auto pairs = demo_pairs(24);
  // Built before the threads: initialisation draws from torch's global generator.
  std::vector<dpo::LlamaForCausalLM> first = {demo_policy(), demo_policy()},
                                     second = {demo_policy(), demo_policy()};
  run_ranks(2, [&](int rank, std::shared_ptr<Communicator> comm) {
    auto in = rank_inputs(first[static_cast<size_t>(rank)], pairs, comm);
    dpo::Trainer trainer(std::move(in), config);
    trainer.step();
    trainer.step();
    if (rank == 0) trainer.save_state(dir.path / "state");
    saved[static_cast<size_t>(rank)] = weights_of(trainer.policy());
    comm->barrier();
  });
  RunResult resumed;
  run_ranks(2, [&](int rank, std::shared_ptr<Communicator> comm) {
    auto in = rank_inputs(second[static_cast<size_t>(rank)], pairs, comm);
    // Built from the starting model (its frozen copy is π_ref), then the checkpoint's weights.
    dpo::Trainer trainer(std::move(in), config);
    {
      torch::NoGradGuard no_grad;
      auto params = trainer.policy()->parameters();
      for (size_t i = 0; i < params.size(); ++i) params[i].copy_(saved[static_cast<size_t>(rank)][i]);
    }
    trainer.load_state(dir.path / "state");
    EXPECT_EQ(trainer.steps_done(), 2);
    while (!trainer.finished()) trainer.step();
    if (rank == 0) resumed.weights = weights_of(trainer.policy());
  });
  ASSERT_EQ(resumed.weights.size(), straight.weights.size());
  for (size_t i = 0; i < resumed.weights.size(); ++i)
    EXPECT_TRUE(torch::equal(resumed.weights[i], straight.weights[i])) << "parameter " << i;

  auto alone = demo_trainer(config, 24);
  try {
    alone->load_state(dir.path / "state");
    ADD_FAILURE() << "a 2-process checkpoint loaded into one process";
  } catch (const dpo::TrainingError& e) {
    EXPECT_NE(
        std::string(e.what()).find("written by a run of 2 processes, this one has 1: resume with --nproc 2"),
        std::string::npos)
        << e.what();
  }
}

// A rank that goes away fails the others' next collective at once, with a line naming the rank.
TEST(Distributed, ALostRankFailsTheOthersWithinTheTimeout) {
  const auto started = std::chrono::steady_clock::now();
  try {
    run_ranks(
        2,
        [](int rank, std::shared_ptr<Communicator> comm) {
          auto t = torch::ones({8});
          comm->all_reduce_sum(t);
          if (rank == 1) return;  // leaves: its sockets close with its communicator
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
          comm->all_reduce_sum(t);
        },
        /*timeout_seconds=*/10);
    ADD_FAILURE() << "the all-reduce without its peer succeeded";
  } catch (const dpo::TrainingError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("distributed (rank 0 of 2): all-reduce failed: ", 0), 0u)
        << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), 30);
}

TEST(Distributed, LossesWithBatchStatisticsAreRefused) {
  auto config = demo_config(2);
  config.loss.type = dpo::LossType::BcoPair;
  const auto pairs = demo_pairs(8);
  std::vector<dpo::LlamaForCausalLM> policies = {demo_policy(), demo_policy()};
  run_ranks(2, [&](int rank, std::shared_ptr<Communicator> comm) {
    auto in = rank_inputs(policies[static_cast<size_t>(rank)], pairs, comm);
    EXPECT_THROW(dpo::Trainer(std::move(in), config), dpo::ConfigError);
  });
}
