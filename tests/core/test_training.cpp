#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <cmath>

#include "core/data/jsonl_reader.h"
#include "core/data/tokenize.h"
#include "core/eval/preference_eval.h"
#include "core/tokenizer/sentencepiece_tokenizer.h"
#include "core/train/trainer.h"
#include "resources/demo_assets.h"

namespace {
struct DemoRun {
  std::unique_ptr<dpo::Tokenizer> tokenizer;
  std::vector<dpo::TokenizedPair> pairs;
  std::unique_ptr<dpo::Trainer> trainer;
};

DemoRun demo_run(int64_t steps, size_t pair_count) {
  DemoRun run;
  run.tokenizer = dpo::SentencePieceTokenizer::from_bytes(dpo::resources::demo_tokenizer_model(), "demo");
  auto pairs = dpo::parse_preference_jsonl(dpo::resources::demo_preferences_jsonl(), "demo");
  pairs.resize(pair_count);
  run.pairs = dpo::tokenize_pairs(*run.tokenizer, pairs, {});
  torch::manual_seed(0);
  dpo::LlamaForCausalLM policy(dpo::LlamaConfig::tiny(run.tokenizer->vocab_size()));
  dpo::initialise_weights(policy);
  dpo::TrainerConfig config;
  config.loss.beta = 0.1;
  config.learning_rate = 1e-3;
  config.batch_size = 8;
  config.max_steps = steps;
  run.trainer = std::make_unique<dpo::Trainer>(policy, run.pairs, 3, config);
  return run;
}
}  // namespace

TEST(Training, DpoLearnsTheDemoPreferences) {
  torch::set_num_threads(2);
  auto run = demo_run(/*steps=*/60, /*pair_count=*/48);
  auto before = dpo::evaluate_preferences(run.trainer->policy(), run.trainer->reference(), run.pairs, 3,
                                          run.trainer->config().loss);
  // Policy == reference at the start: every margin is exactly 0, so nothing counts as won.
  EXPECT_EQ(before.accuracy, 0.0);
  EXPECT_NEAR(before.mean_loss, std::log(2.0), 1e-6);

  std::vector<dpo::StepMetrics> history;
  dpo::train(*run.trainer, [&](const dpo::StepMetrics& m) {
    history.push_back(m);
    return true;
  });
  ASSERT_EQ(history.size(), 60u);
  EXPECT_NEAR(history.front().loss, std::log(2.0), 1e-4);  // first step: π = π_ref
  EXPECT_NEAR(history.front().rewards_margins, 0.0, 1e-5);
  for (const auto& m : history) ASSERT_TRUE(std::isfinite(m.loss)) << "step " << m.step;

  auto after = dpo::evaluate_preferences(run.trainer->policy(), run.trainer->reference(), run.pairs, 3,
                                         run.trainer->config().loss);
  EXPECT_GT(after.accuracy, 0.9);
  EXPECT_GT(after.mean_margin, 0.5);
  EXPECT_LT(after.mean_loss, before.mean_loss);
  EXPECT_GT(history.back().length_chosen, 1.0);
}

TEST(Training, CancelStopsBetweenSteps) {
  auto run = demo_run(/*steps=*/50, /*pair_count=*/16);
  std::atomic<bool> cancel{false};
  const auto steps = dpo::train(*run.trainer, [&](const dpo::StepMetrics& m) {
    if (m.step == 3) cancel = true;
    return true;
  }, &cancel);
  EXPECT_EQ(steps, 3);
  EXPECT_EQ(run.trainer->steps_done(), 3);
}

TEST(Training, ReferenceStaysFrozen) {
  auto run = demo_run(/*steps=*/3, /*pair_count=*/16);
  std::vector<torch::Tensor> before;
  for (const auto& p : run.trainer->reference()->parameters()) before.push_back(p.clone());
  dpo::train(*run.trainer, nullptr);
  size_t i = 0;
  for (const auto& p : run.trainer->reference()->parameters()) EXPECT_TRUE(torch::equal(p, before[i++]));
  EXPECT_FALSE(torch::equal(run.trainer->policy()->parameters().front(),
                            run.trainer->reference()->parameters().front()));
}
