#include <gtest/gtest.h>

#include "core/train/schedule.h"

TEST(Schedule, MatchesTransformersWarmupSchedules) {
  using dpo::LrSchedule;
  const double base = 1e-3;
  // warmup 10, 110 steps: ramp step/10, then progress p = (step − 10) / 100.
  EXPECT_DOUBLE_EQ(dpo::scheduled_learning_rate(base, 0, 10, 110, LrSchedule::Linear), 0.0);
  EXPECT_DOUBLE_EQ(dpo::scheduled_learning_rate(base, 5, 10, 110, LrSchedule::Cosine), 5e-4);
  EXPECT_DOUBLE_EQ(dpo::scheduled_learning_rate(base, 10, 10, 110, LrSchedule::Linear), 1e-3);
  EXPECT_DOUBLE_EQ(dpo::scheduled_learning_rate(base, 60, 10, 110, LrSchedule::Linear), 5e-4);  // 1 − 0.5
  EXPECT_DOUBLE_EQ(dpo::scheduled_learning_rate(base, 60, 10, 110, LrSchedule::Constant), 1e-3);
  // cosine at p = 0.25: 0.5·(1 + cos(π/4)) = 0.853553390593...
  EXPECT_NEAR(dpo::scheduled_learning_rate(base, 35, 10, 110, LrSchedule::Cosine), 8.53553390593e-4, 1e-15);
  EXPECT_NEAR(dpo::scheduled_learning_rate(base, 60, 10, 110, LrSchedule::Cosine), 5e-4, 1e-15);
  EXPECT_DOUBLE_EQ(dpo::scheduled_learning_rate(base, 110, 10, 110, LrSchedule::Linear), 0.0);
  // No warmup: the first step already uses the full rate.
  EXPECT_DOUBLE_EQ(dpo::scheduled_learning_rate(base, 0, 0, 100, LrSchedule::Cosine), 1e-3);
}
