#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/train/logprobs.h"

TEST(ResponseLogprobs, HandComputedSum) {
  // Sequence [p0, r1, r2] with vocabulary 2; tokens: ids = [0, 1, 0], response mask = [0, 1, 1].
  // logits[0] = [0, 0]   predicts id 1: log(1/2)                     = −0.6931471805599453
  // logits[1] = [ln 3, 0] predicts id 0: log(3/4)                    = −0.2876820724517809
  // logits[2] is never used (nothing follows the last token).
  // Sum over response tokens = −0.9808292530117262.
  auto logits = torch::tensor({0.0, 0.0, std::log(3.0), 0.0, 5.0, -5.0}, torch::kFloat32).view({1, 3, 2});
  auto ids = torch::tensor({0, 1, 0}, torch::kLong).view({1, 3});
  auto mask = torch::tensor({0.0f, 1.0f, 1.0f}).view({1, 3});
  auto out = dpo::response_logprobs(logits, ids, mask);
  EXPECT_NEAR(out.sum[0].item<double>(), -0.9808292530117262, 1e-6);
  EXPECT_EQ(out.tokens[0].item<double>(), 2.0);
}

TEST(ResponseLogprobs, PromptLogitsDoNotMatter) {
  torch::manual_seed(1);
  const int64_t T = 8, V = 11, prompt = 4;
  auto logits = torch::randn({2, T, V});
  auto ids = torch::randint(0, V, {2, T});
  auto mask = torch::zeros({2, T});
  mask.narrow(1, prompt, T - prompt).fill_(1);
  auto before = dpo::response_logprobs(logits, ids, mask).sum;
  // logits at positions 0..prompt-2 predict prompt tokens 1..prompt-1.
  auto changed = logits.clone();
  changed.narrow(1, 0, prompt - 1).add_(torch::randn({2, prompt - 1, V}) * 10);
  auto after = dpo::response_logprobs(changed, ids, mask).sum;
  EXPECT_TRUE(torch::allclose(before, after));
  // ...while changing the logit that predicts the first response token does change it.
  changed.select(1, prompt - 1).add_(torch::randn({2, V}) * 10);
  EXPECT_FALSE(torch::allclose(before, dpo::response_logprobs(changed, ids, mask).sum));
}

TEST(ResponseLogprobs, PaddingNeverCounts) {
  torch::manual_seed(2);
  const int64_t V = 7;
  auto logits = torch::randn({1, 6, V});
  auto ids = torch::tensor({1, 2, 3, 4, 0, 0}, torch::kLong).view({1, 6});
  auto mask = torch::tensor({0.f, 0.f, 1.f, 1.f, 0.f, 0.f}).view({1, 6});
  auto padded = dpo::response_logprobs(logits, ids, mask);
  auto unpadded = dpo::response_logprobs(logits.narrow(1, 0, 4), ids.narrow(1, 0, 4), mask.narrow(1, 0, 4));
  EXPECT_NEAR(padded.sum.item<double>(), unpadded.sum.item<double>(), 1e-6);
  EXPECT_EQ(padded.tokens.item<double>(), 2.0);
  // Garbage in the padded positions' logits changes nothing.
  logits.narrow(1, 4, 2).fill_(1e3);
  ids.narrow(1, 4, 2).fill_(5);
  EXPECT_NEAR(dpo::response_logprobs(logits, ids, mask).sum.item<double>(), padded.sum.item<double>(), 1e-6);
}
