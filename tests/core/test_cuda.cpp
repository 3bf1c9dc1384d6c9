// The GPU half of the core: each test compares CUDA with the CPU on the same weights and data.
// Skipped where torch has no CUDA device (Debian's libtorch); scripts/gpu-check runs them on a GPU.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>
#include <filesystem>

#include "core/train/checkpoint.h"
#include "core/train/logprobs.h"
#include "core/train/pair_logps.h"
#include "core/train/trainer.h"

namespace fs = std::filesystem;

namespace {

#define DPO_REQUIRE_CUDA() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device in this libtorch/machine"

// Pairs of random ids of varied lengths (padding in play); no tokenizer, so the GPU build needs none.
std::vector<dpo::TokenizedPair> random_pairs(size_t count) {
  auto generator = at::detail::createCPUGenerator(7);
  auto id = [&] { return torch::randint(4, 400, {1}, generator, torch::kLong).item<int64_t>(); };
  std::vector<dpo::TokenizedPair> pairs(count);
  for (size_t i = 0; i < count; ++i) {
    auto& p = pairs[i];
    p.prompt_ids.push_back(1);
    for (size_t t = 0; t < 3 + i % 5; ++t) p.prompt_ids.push_back(id());
    for (size_t t = 0; t < 4 + i % 7; ++t) p.chosen_ids.push_back(id());
    for (size_t t = 0; t < 2 + (i * 3) % 9; ++t) p.rejected_ids.push_back(id());
    p.line = i + 1;
  }
  return pairs;
}

dpo::LlamaForCausalLM policy_on(const torch::Device& device) {
  torch::manual_seed(0);
  dpo::LlamaForCausalLM policy(dpo::LlamaConfig::tiny(400));
  dpo::initialise_weights(policy);
  policy->to(device);
  return policy;
}

std::unique_ptr<dpo::Trainer> trainer_on(const torch::Device& device, int64_t steps, bool bf16 = false) {
  dpo::TrainerConfig config;
  config.learning_rate = 1e-3;
  config.batch_size = 8;
  config.max_steps = steps;
  config.bf16_autocast = bf16;
  config.measure_sampled_length = false;
  dpo::TrainerInputs in;
  in.policy = policy_on(device);
  in.train_pairs = random_pairs(16);
  in.pad_id = 3;
  return std::make_unique<dpo::Trainer>(std::move(in), config);
}

double max_weight_difference(dpo::LlamaForCausalLM& a, dpo::LlamaForCausalLM& b) {
  auto pb = b->named_parameters();
  double worst = 0;
  for (const auto& p : a->named_parameters())
    worst = std::max(worst, (p.value().cpu() - pb[p.key()].cpu()).abs().max().item<double>());
  return worst;
}

}  // namespace

TEST(Cuda, LogitsEqualTheCpu) {
  DPO_REQUIRE_CUDA();
  auto cpu = policy_on(torch::kCPU), gpu = policy_on(torch::kCUDA);
  cpu->eval();
  gpu->eval();
  auto ids = torch::randint(3, 400, {3, 40});
  auto mask = torch::ones({3, 40}, torch::kLong);
  mask[2].narrow(0, 30, 10).fill_(0);
  torch::NoGradGuard no_grad;
  auto a = cpu(ids, mask), b = gpu(ids.cuda(), mask.cuda()).cpu();
  EXPECT_LT((a - b).abs().narrow(0, 0, 2).max().item<double>(), 1e-4);
  EXPECT_LT((a[2].narrow(0, 0, 30) - b[2].narrow(0, 0, 30)).abs().max().item<double>(), 1e-4);
}

TEST(Cuda, ChunkedLogprobsEqualTheCpu) {
  DPO_REQUIRE_CUDA();
  auto cpu = policy_on(torch::kCPU), gpu = policy_on(torch::kCUDA);
  auto ids = torch::randint(3, 400, {4, 32});
  auto attention = torch::ones({4, 32}, torch::kLong);
  auto response = torch::zeros({4, 32});
  response.narrow(1, 8, 24).fill_(1);
  auto a = dpo::model_response_logprobs(cpu, ids, attention, response, 16).logps.sum;
  auto b = dpo::model_response_logprobs(gpu, ids, attention, response, 16).logps.sum.cpu();
  EXPECT_TRUE(torch::allclose(a, b, 1e-4, 1e-3)) << a << b;
}

TEST(Cuda, DpoStepsEqualTheCpu) {
  DPO_REQUIRE_CUDA();
  auto cpu = trainer_on(torch::kCPU, 3), gpu = trainer_on(torch::kCUDA, 3);
  for (int i = 0; i < 3; ++i) {
    auto m1 = cpu->step(), m2 = gpu->step();
    EXPECT_NEAR(m1.loss, m2.loss, 1e-4) << "step " << i + 1;
    EXPECT_NEAR(m1.grad_norm, m2.grad_norm, 1e-3 * std::max(1.0, m1.grad_norm)) << "step " << i + 1;
  }
  EXPECT_LT(max_weight_difference(cpu->policy(), gpu->policy()), 1e-4);
}

TEST(Cuda, Bf16AutocastTrains) {
  DPO_REQUIRE_CUDA();
  auto gpu = trainer_on(torch::kCUDA, 30, /*bf16=*/true);
  double first = 0, last = 0;
  for (int i = 0; i < 30; ++i) {
    auto m = gpu->step();
    ASSERT_FALSE(m.skipped) << "step " << i + 1;
    if (i == 0) first = m.loss;
    last = m.loss;
  }
  EXPECT_NEAR(first, std::log(2.0), 1e-2);  // π = π_ref at step 1, up to bf16 rounding
  EXPECT_LT(last, first - 0.05);
  for (const auto& p : gpu->policy()->parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat32);
}

TEST(Cuda, CheckpointWrittenOnCudaResumesOnCpu) {
  DPO_REQUIRE_CUDA();
  const auto dir = fs::temp_directory_path() / ("dpo-cuda-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto gpu = trainer_on(torch::kCUDA, 6);
  for (int i = 0; i < 3; ++i) gpu->step();
  const auto saved = dpo::write_checkpoint(dir, *gpu, {});
  auto cpu = trainer_on(torch::kCPU, 6);
  dpo::restore_checkpoint(saved, *cpu);
  EXPECT_EQ(cpu->steps_done(), 3);
  EXPECT_LT(max_weight_difference(cpu->policy(), gpu->policy()), 1e-7);
  auto g = gpu->step(), c = cpu->step();  // the same step 4 on both devices
  EXPECT_NEAR(g.loss, c.loss, 1e-4);
  EXPECT_LT(max_weight_difference(cpu->policy(), gpu->policy()), 1e-4);
  fs::remove_all(dir);
}
