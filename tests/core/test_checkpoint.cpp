#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "core/train/checkpoint.h"
#include "core/train/trainer.h"
#include "training_fixtures.h"

using namespace dpo_test;

// Stopping after 3 steps, writing a checkpoint and continuing in a fresh trainer ends on the same
// bits as 6 uninterrupted steps.
TEST(Checkpoint, ResumeIsBitExact) {
  TempDir dir;
  auto config = demo_config(6);
  config.schedule = dpo::LrSchedule::Cosine;
  config.warmup_steps = 1;
  config.weight_decay = 0.01;
  auto straight = demo_trainer(config, 12);  // 12 pairs, batch 8: epochs straddle steps
  dpo::train(*straight, nullptr);

  auto first = demo_trainer(config, 12);
  for (int i = 0; i < 3; ++i) first->step();
  const auto saved = dpo::write_checkpoint(dir.path, *first, {.keep = 2});
  EXPECT_EQ(saved.filename(), "step-000003");
  EXPECT_EQ(dpo::latest_checkpoint(dir.path), saved);

  auto resumed = demo_trainer(config, 12);
  dpo::restore_checkpoint(saved, *resumed);
  EXPECT_EQ(resumed->steps_done(), 3);
  dpo::train(*resumed, nullptr);
  auto a = straight->policy()->named_parameters();
  for (const auto& p : resumed->policy()->named_parameters())
    EXPECT_TRUE(torch::equal(p.value(), a[p.key()])) << p.key();
}

TEST(Checkpoint, KeepsTheNewestAndIgnoresHalfWrittenOnes) {
  TempDir dir;
  auto trainer = demo_trainer(demo_config(5), 16);
  for (int i = 0; i < 4; ++i) {
    trainer->step();
    dpo::write_checkpoint(dir.path, *trainer, {.keep = 2});
  }
  auto all = dpo::list_checkpoints(dir.path);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(dpo::checkpoint_step(all[0]), 3);
  EXPECT_EQ(dpo::checkpoint_step(all[1]), 4);
  // A folder a killed write left behind is neither listed nor resumed from.
  fs::create_directories(dir.path / "checkpoints" / ".partial-step-000005-999");
  fs::create_directories(dir.path / "checkpoints" / "step-000009");  // no trainer_state.json
  EXPECT_EQ(dpo::checkpoint_step(*dpo::latest_checkpoint(dir.path)), 4);
}
