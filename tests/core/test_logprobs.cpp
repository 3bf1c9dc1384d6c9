#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/model/llama.h"
#include "core/train/logprobs.h"
#include "core/train/pair_logps.h"

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

// --- response_logprobs_from_hidden: the chunked head, against the full-logits path ---

namespace {
struct HeadCase {
  torch::Tensor hidden, head, ids, mask;
};

// N rows of T positions, C-dim states, vocabulary V; row n has prompt length 2 + n and its last n
// positions padded, so chunks cut across rows and padding.
HeadCase head_case(int64_t N, int64_t T, int64_t C, int64_t V, uint64_t seed) {
  torch::manual_seed(seed);
  HeadCase c{torch::randn({N, T, C}, torch::kFloat64).to(torch::kFloat32), (torch::randn({V, C}) * 0.5),
             torch::randint(0, V, {N, T}), torch::zeros({N, T})};
  for (int64_t n = 0; n < N; ++n) c.mask[n].narrow(0, 2 + n, T - 2 - 2 * n).fill_(1);
  return c;
}
}  // namespace

TEST(ResponseLogprobsFromHidden, HandComputedSum) {
  // The HandComputedSum case above as hidden states and a head: C = 2, head = identity, so the
  // logits are the hidden states themselves.
  auto hidden = torch::tensor({0.0, 0.0, std::log(3.0), 0.0, 5.0, -5.0}, torch::kFloat32).view({1, 3, 2});
  auto head = torch::eye(2);
  auto ids = torch::tensor({0, 1, 0}, torch::kLong).view({1, 3});
  auto mask = torch::tensor({0.0f, 1.0f, 1.0f}).view({1, 3});
  for (int64_t chunk : {0, 1, 2, 64}) {
    auto out = dpo::response_logprobs_from_hidden(hidden, head, ids, mask, chunk);
    EXPECT_NEAR(out.logps.sum[0].item<double>(), -0.9808292530117262, 1e-6) << chunk;
    EXPECT_EQ(out.logps.tokens[0].item<double>(), 2.0);
    // Mean logit over both response positions and the vocabulary: (0 + 0 + ln 3 + 0) / 4.
    EXPECT_NEAR(out.mean_logits[0].item<double>(), std::log(3.0) / 4, 1e-6);
  }
}

TEST(ResponseLogprobsFromHidden, ChunkedEqualsFullLogitsInValueAndGradient) {
  const int64_t N = 4, T = 13, C = 8, V = 37;
  for (int64_t chunk : {0, 1, 5, 16, 1000}) {
    auto c = head_case(N, T, C, V, 11);
    auto h1 = c.hidden.clone().requires_grad_(true), w1 = c.head.clone().requires_grad_(true);
    auto h2 = c.hidden.clone().requires_grad_(true), w2 = c.head.clone().requires_grad_(true);
    auto full = dpo::response_logprobs(torch::matmul(h1, w1.t()), c.ids, c.mask);
    auto chunked = dpo::response_logprobs_from_hidden(h2, w2, c.ids, c.mask, chunk);
    EXPECT_TRUE(torch::allclose(full.sum, chunked.logps.sum, 1e-5, 1e-5)) << chunk;
    EXPECT_TRUE(torch::equal(full.tokens, chunked.logps.tokens));
    // An upstream gradient that differs per row, as a DPO loss gives.
    auto weights = torch::tensor({1.0f, -0.5f, 2.0f, 0.25f});
    (full.sum * weights).sum().backward();
    (chunked.logps.sum * weights).sum().backward();
    EXPECT_LT((h1.grad() - h2.grad()).abs().max().item<double>(), 1e-5) << chunk;
    EXPECT_LT((w1.grad() - w2.grad()).abs().max().item<double>(), 1e-5) << chunk;
    // States at prompt and padding positions get no gradient.
    EXPECT_EQ(h2.grad()[0].narrow(0, 0, 1).abs().sum().item<double>(), 0.0);
    EXPECT_EQ(h2.grad()[N - 1].narrow(0, T - N + 1, N - 1).abs().sum().item<double>(), 0.0);
  }
}

TEST(ResponseLogprobsFromHidden, TokenWeightsScaleEachTokenInValueAndGradient) {
  // Σ_t w_t·log π(y_t) against the full logits' per-token log-probs, weighted by hand.
  const int64_t N = 3, T = 10, C = 6, V = 19;
  auto c = head_case(N, T, C, V, 21);
  auto weights = torch::rand({N, T}) * c.mask;  // (N, T), 0 off the response
  auto h1 = c.hidden.clone().requires_grad_(true), h2 = c.hidden.clone().requires_grad_(true);
  auto logits = torch::matmul(h1, c.head.t()).narrow(1, 0, T - 1);  // (N, T−1, V)
  auto token_logps = logits.log_softmax(-1).gather(-1, c.ids.narrow(1, 1, T - 1).unsqueeze(-1)).squeeze(-1);
  auto expected = (token_logps * weights.narrow(1, 1, T - 1)).sum(1);  // (N)
  dpo::ResponseScoreOptions options;
  options.token_weights = weights;
  for (int64_t chunk : {0, 4}) {
    auto out = dpo::response_logprobs_from_hidden(h2, c.head, c.ids, c.mask, chunk, options);
    EXPECT_TRUE(torch::allclose(out.logps.sum, expected, 1e-5, 1e-5)) << chunk;
    EXPECT_TRUE(torch::equal(out.logps.tokens, c.mask.narrow(1, 1, T - 1).sum(1)));  // counts stay counts
    if (chunk == 0) {
      expected.sum().backward();
      out.logps.sum.sum().backward();
      EXPECT_LT((h1.grad() - h2.grad()).abs().max().item<double>(), 1e-5);
    }
  }
}

TEST(ResponseLogprobsFromHidden, WpoMeanIsLogProbMinusLogSumOfSquaredProbabilities) {
  // Per token: log p(y_t) − log Σ_v p_v², averaged over each row's response tokens.
  auto c = head_case(3, 9, 5, 17, 8);
  auto logp = torch::matmul(c.hidden, c.head.t()).narrow(1, 0, 8).log_softmax(-1);  // (N, T−1, V)
  auto token = logp.gather(-1, c.ids.narrow(1, 1, 8).unsqueeze(-1)).squeeze(-1);    // (N, T−1)
  auto adjusted = token - (2 * logp).logsumexp(-1);                                 // (N, T−1)
  auto m = c.mask.narrow(1, 1, 8);
  auto expected = (adjusted * m).sum(1) / m.sum(1);
  dpo::ResponseScoreOptions options;
  options.wpo = true;
  auto out = dpo::response_logprobs_from_hidden(c.hidden, c.head, c.ids, c.mask, 3, options);
  EXPECT_TRUE(torch::allclose(out.wpo_mean, expected, 1e-5, 1e-5)) << out.wpo_mean << expected;
  EXPECT_FALSE(dpo::response_logprobs_from_hidden(c.hidden, c.head, c.ids, c.mask, 3).wpo_mean.defined());
}

TEST(LdTokenWeights, SharedLengthCountsFullyTheRestTimesAlpha) {
  // Pair 0: chosen has 3 response tokens, rejected 5 → shared 3: rejected's last 2 get α.
  // Pair 1: chosen 4, rejected 2 → chosen's last 2 get α.
  auto mask = torch::zeros({4, 8});
  mask[0].narrow(0, 2, 3).fill_(1);
  mask[1].narrow(0, 1, 4).fill_(1);
  mask[2].narrow(0, 2, 5).fill_(1);
  mask[3].narrow(0, 3, 2).fill_(1);
  auto w = dpo::ld_token_weights(mask, 2, 0.25);
  auto row = [&](int64_t r) {
    return std::vector<float>(w[r].data_ptr<float>(), w[r].data_ptr<float>() + 8);
  };
  EXPECT_EQ(row(0), (std::vector<float>{0, 0, 1, 1, 1, 0, 0, 0}));
  EXPECT_EQ(row(1), (std::vector<float>{0, 1, 1, 0.25f, 0.25f, 0, 0, 0}));
  EXPECT_EQ(row(2), (std::vector<float>{0, 0, 1, 1, 1, 0.25f, 0.25f, 0}));
  EXPECT_EQ(row(3), (std::vector<float>{0, 0, 0, 1, 1, 0, 0, 0}));
}

TEST(ResponseLogprobsFromHidden, MeanLogitsMatchTheFullLogits) {
  auto c = head_case(3, 9, 6, 23, 5);
  auto logits = torch::matmul(c.hidden, c.head.t());  // (N, T, V)
  auto out = dpo::response_logprobs_from_hidden(c.hidden, c.head, c.ids, c.mask, 4);
  auto per_position = logits.mean(-1).narrow(1, 0, 8);  // (N, T−1)
  auto m = c.mask.narrow(1, 1, 8);
  auto expected = (per_position * m).sum(1) / m.sum(1);
  EXPECT_TRUE(torch::allclose(out.mean_logits, expected, 1e-5, 1e-6));
}

TEST(ResponseLogprobsFromHidden, NoGradientForAFrozenHead) {
  auto c = head_case(2, 7, 4, 11, 3);
  auto h = c.hidden.clone().requires_grad_(true);
  auto out = dpo::response_logprobs_from_hidden(h, c.head, c.ids, c.mask, 3);
  out.logps.sum.sum().backward();
  EXPECT_TRUE(h.grad().defined());
  EXPECT_FALSE(c.head.grad().defined());
}

TEST(ResponseLogprobsFromHidden, DefaultChunkKeepsLogitsNear32MB) {
  EXPECT_EQ(dpo::default_logit_chunk_rows(32000), 256);  // 256 × 32000 × 4 B = 32.8 MB
  EXPECT_EQ(dpo::default_logit_chunk_rows(151936), 64);  // at least 64 rows
  EXPECT_EQ(dpo::default_logit_chunk_rows(4096), 2048);
}

TEST(ResponseLogprobsFromHidden, LlamaPolicyGradientsMatchTheFullLogitsPath) {
  for (bool tied : {true, false}) {
    auto config = dpo::LlamaConfig::tiny(61);
    config.tie_word_embeddings = tied;
    torch::manual_seed(9);
    dpo::LlamaForCausalLM a(config), b(config);
    dpo::initialise_weights(a);
    {
      torch::NoGradGuard no_grad;
      auto source = a->named_parameters();
      for (auto& p : b->named_parameters()) p.value().copy_(source[p.key()]);
    }
    auto ids = torch::randint(3, 61, {4, 12});
    auto attention = torch::ones({4, 12}, torch::kLong);
    attention[3].narrow(0, 9, 3).fill_(0);  // right padding on one row
    auto mask = torch::zeros({4, 12});
    mask.narrow(1, 4, 8).fill_(1);
    mask[3].narrow(0, 9, 3).fill_(0);
    auto full = dpo::response_logprobs(a(ids, attention), ids, mask).sum;
    auto chunked = dpo::model_response_logprobs(b, ids, attention, mask, 7).logps.sum;
    EXPECT_TRUE(torch::allclose(full, chunked, 1e-5, 1e-5)) << tied;
    (full * torch::tensor({1.f, -1.f, 0.5f, 2.f})).sum().backward();
    (chunked * torch::tensor({1.f, -1.f, 0.5f, 2.f})).sum().backward();
    auto pb = b->named_parameters();
    for (const auto& p : a->named_parameters())
      EXPECT_LT((p.value().grad() - pb[p.key()].grad()).abs().max().item<double>(), 1e-5) << p.key();
  }
}
