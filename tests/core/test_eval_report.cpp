// What `dpo eval` reports from per-pair records (core/eval/eval_report), by hand.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>

#include "core/eval/eval_report.h"
#include "core/runtime/error.h"

namespace {

dpo::PairRecord pair(double margin, int64_t len_w, int64_t len_l) {
  dpo::PairRecord r;
  r.margin = margin;
  r.misranked = !(margin > 0);
  r.length_chosen = len_w;
  r.length_rejected = len_l;
  return r;
}

TEST(EvalReport, AccuracyCountsTiesAsWrongAndLengthBias) {
  // margins: 3 right, 1 tie, 1 wrong.
  const std::vector<dpo::PairRecord> pairs = {pair(0.5, 10, 5), pair(0.2, 4, 8), pair(1.0, 9, 3),
                                              pair(0.0, 5, 5), pair(-0.3, 7, 2)};
  const auto r = dpo::report_pairs(pairs, 500, 1);
  EXPECT_EQ(r.pairs, 5u);
  EXPECT_DOUBLE_EQ(r.accuracy.estimate, 0.6);
  EXPECT_NEAR(r.mean_margin.estimate, 0.28, 1e-12);
  EXPECT_LE(r.accuracy.lower, 0.6);
  EXPECT_GE(r.accuracy.upper, 0.6);
  // Four pairs differ in length. By hand: pair 1 picks chosen, the longer; pair 2 chosen, the
  // shorter; pair 3 chosen, the longer; pair 5 rejected, the shorter: the longer in 2 of 4.
  EXPECT_EQ(r.length_pairs, 4u);
  EXPECT_DOUBLE_EQ(r.model_prefers_longer, 0.5);
  EXPECT_DOUBLE_EQ(r.data_prefers_longer, 0.75);  // chosen longer in pairs 1, 3, 5
  // Five pairs, five bins of one pair each, ordered by |margin|: 0, 0.2, 0.3, 0.5, 1.0.
  ASSERT_EQ(r.calibration.size(), 5u);
  EXPECT_DOUBLE_EQ(r.calibration[0].upper, 0.0);
  EXPECT_DOUBLE_EQ(r.calibration[0].accuracy, 0.0);  // the tie
  EXPECT_DOUBLE_EQ(r.calibration[2].lower, 0.3);
  EXPECT_DOUBLE_EQ(r.calibration[2].accuracy, 0.0);  // the wrong one
  EXPECT_DOUBLE_EQ(r.calibration[4].accuracy, 1.0);
  EXPECT_NEAR(r.calibration[4].predicted, 1 / (1 + std::exp(-1.0)), 1e-12);
  const nlohmann::json j = r;
  EXPECT_EQ(j["accuracy"]["estimate"], 0.6);
}

// Without a reference the records hold β·log π(y) as rewards and log π(y) as log-ratios.
TEST(EvalReport, ReferenceFreeScorings) {
  dpo::PairRecord r;
  r.logratio_chosen = -20;   // 10 tokens: −2 per token
  r.logratio_rejected = -9;  // 3 tokens: −3 per token
  r.length_chosen = 10;
  r.length_rejected = 3;
  r.reward_chosen = 0.1 * -20;
  r.reward_rejected = 0.1 * -9;
  r.margin = r.reward_chosen - r.reward_rejected;  // sum: −1.1, rejected wins
  r.misranked = true;
  std::vector<dpo::PairRecord> sum = {r}, mean = {r}, simpo = {r};
  dpo::rescore_pairs(sum, dpo::PairScoring::Sum, 0.1, 0.5);
  EXPECT_TRUE(sum[0].misranked);
  dpo::rescore_pairs(mean, dpo::PairScoring::Mean, 0.1, 0.5);
  EXPECT_DOUBLE_EQ(mean[0].margin, 1.0);  // −2 − (−3)
  EXPECT_FALSE(mean[0].misranked);
  dpo::rescore_pairs(simpo, dpo::PairScoring::Simpo, 2.0, 2.5);
  EXPECT_DOUBLE_EQ(simpo[0].margin, 2.0 * 1.0 - 2.5);  // short of SimPO's target margin
  EXPECT_TRUE(simpo[0].misranked);
  EXPECT_EQ(dpo::parse_pair_scoring("mean"), dpo::PairScoring::Mean);
  EXPECT_THROW(dpo::parse_pair_scoring("median"), dpo::ConfigError);
}

}  // namespace
