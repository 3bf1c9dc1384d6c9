#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>

#include "core/generate/generate.h"
#include "core/generate/sampling.h"
#include "core/io/hf_folder.h"
#include "decisive_model.h"
#include "tiny_checkpoint.h"

namespace fs = std::filesystem;

namespace {

using dpo::testing::decisive_random_model;

const std::vector<std::vector<int64_t>> kPrompts = {{1, 5, 9, 13}, {1, 7}, {1, 22, 40, 41, 42, 43, 44}};

}  // namespace

TEST(Generate, KvCacheGivesTheSameTokensAsFullRecomputation) {
  auto model = decisive_random_model();
  dpo::GenerationConfig config;
  config.max_new_tokens = 16;
  auto cached = dpo::generate(model, kPrompts, 0, config);
  config.use_cache = false;
  auto full = dpo::generate(model, kPrompts, 0, config);
  for (size_t i = 0; i < kPrompts.size(); ++i) {
    EXPECT_EQ(cached[i].tokens, full[i].tokens) << "prompt " << i;
    EXPECT_EQ(cached[i].tokens.size(), 16u);
  }
}

TEST(Generate, KvCacheLogitsMatchFullForward) {
  auto model = decisive_random_model();
  model->eval();
  torch::NoGradGuard no_grad;
  auto ids = torch::tensor({1, 5, 9, 13, 17, 21}, torch::kLong).view({1, 6});
  auto mask = torch::ones({1, 6}, torch::kLong);
  auto full = model(ids, mask);  // (1, 6, V)
  dpo::KVCache cache;
  auto first = model->forward(ids.narrow(1, 0, 4), mask.narrow(1, 0, 4), &cache);
  auto fifth = model->forward(ids.narrow(1, 4, 1), mask.narrow(1, 0, 5), &cache);
  auto sixth = model->forward(ids.narrow(1, 5, 1), mask, &cache);
  EXPECT_EQ(cache.length(), 6);
  EXPECT_EQ(cache.keys[0].size(1), model->config().num_key_value_heads);
  EXPECT_TRUE(torch::allclose(first, full.narrow(1, 0, 4), 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(fifth.squeeze(1), full.select(1, 4), 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(sixth.squeeze(1), full.select(1, 5), 1e-4, 1e-5));
}

TEST(Generate, BatchedLeftPaddingMatchesOnePromptAtATime) {
  auto model = decisive_random_model();
  dpo::GenerationConfig config;
  config.max_new_tokens = 10;
  auto batched = dpo::generate(model, kPrompts, 0, config);
  for (size_t i = 0; i < kPrompts.size(); ++i)
    EXPECT_EQ(batched[i].tokens, dpo::generate(model, {kPrompts[i]}, 0, config)[0].tokens) << "prompt " << i;
}

TEST(Generate, StopsOnStopTokenAndCallbackCanCancel) {
  auto model = decisive_random_model();
  dpo::GenerationConfig config;
  config.max_new_tokens = 12;
  auto free_run = dpo::generate(model, {kPrompts[0]}, 0, config)[0];
  const int64_t stop = free_run.tokens[3];
  config.stop_token_ids = {stop};
  auto stopped = dpo::generate(model, {kPrompts[0]}, 0, config)[0];
  const auto first =
      std::find(free_run.tokens.begin(), free_run.tokens.end(), stop) - free_run.tokens.begin();
  EXPECT_EQ(stopped.tokens.size(), static_cast<size_t>(first + 1));
  EXPECT_EQ(stopped.finish, dpo::FinishReason::StopToken);

  config.stop_token_ids.clear();
  int seen = 0;
  auto cancelled =
      dpo::generate(model, {kPrompts[0]}, 0, config, [&](size_t, int64_t) { return ++seen < 5; })[0];
  EXPECT_EQ(cancelled.tokens.size(), 5u);
  EXPECT_EQ(cancelled.finish, dpo::FinishReason::Cancelled);
}

TEST(Generate, SamplingIsSeededAndTopKOneIsGreedy) {
  auto model = decisive_random_model();
  dpo::GenerationConfig greedy;
  greedy.max_new_tokens = 12;
  auto g = dpo::generate(model, kPrompts, 0, greedy);
  auto sampled = greedy;
  sampled.temperature = 1.0;
  sampled.top_k = 1;
  auto k1 = dpo::generate(model, kPrompts, 0, sampled);
  for (size_t i = 0; i < kPrompts.size(); ++i) EXPECT_EQ(g[i].tokens, k1[i].tokens);
  sampled.top_k = 0;
  sampled.temperature = 1.5;
  sampled.seed = 7;
  auto a = dpo::generate(model, kPrompts, 0, sampled), b = dpo::generate(model, kPrompts, 0, sampled);
  for (size_t i = 0; i < kPrompts.size(); ++i) EXPECT_EQ(a[i].tokens, b[i].tokens);
}

TEST(Sampling, ProcessorsByHand) {
  // Repetition penalty 2 on seen ids {0, 2}: 4 → 2, −1 → −2; unseen ids unchanged.
  auto logits = torch::tensor({{4.0f, 1.0f, -1.0f, 3.0f}});
  dpo::apply_repetition_penalty(logits, {{0, 2, 2}}, 2.0);
  EXPECT_TRUE(torch::equal(logits, torch::tensor({{2.0f, 1.0f, -2.0f, 3.0f}})));
  // Top-k 2 keeps 3 and 2.
  auto k = logits.clone();
  dpo::apply_top_k(k, 2);
  EXPECT_TRUE(torch::isinf(k[0][1]).item<bool>());
  EXPECT_TRUE(torch::isinf(k[0][2]).item<bool>());
  EXPECT_EQ(k[0][3].item<float>(), 3.0f);
  // Top-p: probabilities of [ln 6, ln 3, ln 1] are [0.6, 0.3, 0.1]; p = 0.8 keeps the first two
  // (0.6 < 0.8 before the second), drops the third (0.9 of mass already before it).
  auto p = torch::tensor({{std::log(6.0f), std::log(3.0f), 0.0f}});
  dpo::apply_top_p(p, 0.8);
  EXPECT_FALSE(torch::isinf(p[0][1]).item<bool>());
  EXPECT_TRUE(torch::isinf(p[0][2]).item<bool>());
}

TEST(Generate, GreedyMatchesIndependentReference) {
  // Greedy tokens of the formula-weighted Llama-3-style checkpoint, from
  // tests/reference/llama_reference.py --greedy 12 (full recomputation in float64).
  auto dir = fs::temp_directory_path() / ("dpo_gen_golden_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  write_checkpoint(dir, llama3_config(), torch::kFloat32);
  auto loaded = dpo::load_hf_model(dir);
  dpo::GenerationConfig config;
  config.max_new_tokens = 12;
  auto tokens = dpo::generate(loaded.model, {{1, 7, 30, 4}}, 0, config)[0].tokens;
  const std::vector<int64_t> golden = {11, 9, 16, 14, 12, 19, 17, 24, 22, 20, 18, 16};
  EXPECT_EQ(tokens, golden);
  fs::remove_all(dir);
}
