#include <gtest/gtest.h>
#include <torch/torch.h>

#include <span>

#include "core/data/collator.h"
#include "core/data/jsonl_reader.h"
#include "core/data/tokenize.h"
#include "core/eval/token_scores.h"
#include "core/tokenizer/sentencepiece_tokenizer.h"
#include "core/train/logprobs.h"
#include "resources/demo_assets.h"

namespace {

constexpr int64_t kPad = 3;

struct Fixture {
  std::unique_ptr<dpo::SentencePieceTokenizer> tokenizer =
      dpo::SentencePieceTokenizer::from_bytes(dpo::resources::demo_tokenizer_model(), "demo");
  std::vector<dpo::TokenizedPair> pairs;
  dpo::LlamaForCausalLM reference{nullptr};
  dpo::LlamaForCausalLM policy{nullptr};

  Fixture() {
    auto raw = dpo::parse_preference_jsonl(dpo::resources::demo_preferences_jsonl(), "demo");
    raw.resize(4);
    pairs = dpo::tokenize_pairs(*tokenizer, raw, {});
    torch::manual_seed(3);
    reference = dpo::LlamaForCausalLM(dpo::LlamaConfig::tiny(tokenizer->vocab_size()));
    dpo::initialise_weights(reference);
    torch::manual_seed(4);
    policy = dpo::LlamaForCausalLM(dpo::LlamaConfig::tiny(tokenizer->vocab_size()));
    dpo::initialise_weights(policy);
    reference->eval();
    policy->eval();
  }
};

// Sequence log-ratios of pair i with response_logprobs over a batch of several pairs (padding in play).
std::pair<double, double> sequence_logratios(Fixture& f, size_t i) {
  torch::NoGradGuard no_grad;
  auto batch = dpo::collate_pairs(std::span(f.pairs), kPad);  // (2B, T)
  const auto B = static_cast<int64_t>(f.pairs.size());
  auto pi = dpo::response_logprobs(f.policy(batch.input_ids, batch.attention_mask), batch.input_ids,
                                   batch.response_mask)
                .sum;
  auto ref = dpo::response_logprobs(f.reference(batch.input_ids, batch.attention_mask), batch.input_ids,
                                    batch.response_mask)
                 .sum;
  const auto a = (pi[static_cast<int64_t>(i)] - ref[static_cast<int64_t>(i)]).item<double>();
  const auto b = (pi[B + static_cast<int64_t>(i)] - ref[B + static_cast<int64_t>(i)]).item<double>();
  return {a, b};
}

}  // namespace

TEST(TokenScores, PerTokenLogRatiosSumToTheSequenceLogRatio) {
  Fixture f;
  for (size_t i = 0; i < f.pairs.size(); ++i) {
    const auto scores = dpo::score_pair_tokens(f.policy, &f.reference, f.pairs[i], kPad, *f.tokenizer);
    ASSERT_EQ(scores.chosen.size(), f.pairs[i].chosen_ids.size());
    ASSERT_EQ(scores.rejected.size(), f.pairs[i].rejected_ids.size());
    double a = 0, b = 0;
    for (const auto& t : scores.chosen) a += t.logratio();
    for (const auto& t : scores.rejected) b += t.logratio();
    const auto [want_a, want_b] = sequence_logratios(f, i);
    // Two different models, so the log-ratios are far from 0 and a wrong position would show.
    EXPECT_GT(std::abs(want_a), 0.1);
    EXPECT_NEAR(a, want_a, 1e-3) << "pair " << i;
    EXPECT_NEAR(b, want_b, 1e-3) << "pair " << i;
    EXPECT_EQ(scores.line, f.pairs[i].line);
    EXPECT_TRUE(scores.has_reference);
  }
}

TEST(TokenScores, PiecesAndTextComeFromTheTokenizer) {
  Fixture f;
  const auto& pair = f.pairs[0];
  const auto scores = dpo::score_pair_tokens(f.policy, &f.reference, pair, kPad, *f.tokenizer);
  std::string chosen_text;
  for (size_t k = 0; k < scores.chosen.size(); ++k) {
    EXPECT_EQ(scores.chosen[k].id, pair.chosen_ids[k]);
    EXPECT_EQ(scores.chosen[k].piece, f.tokenizer->piece(static_cast<int>(pair.chosen_ids[k])));
    EXPECT_LT(scores.chosen[k].policy_logp, 0.0);
    chosen_text += scores.chosen[k].text;
  }
  std::vector<int> ids(pair.chosen_ids.begin(), pair.chosen_ids.end());
  EXPECT_EQ(chosen_text, f.tokenizer->decode(ids));
  EXPECT_FALSE(scores.prompt.empty());
}

TEST(TokenScores, WithoutReferenceTheLogRatioIsThePolicyLogProb) {
  Fixture f;
  const auto scores = dpo::score_pair_tokens(f.policy, nullptr, f.pairs[1], kPad, *f.tokenizer);
  EXPECT_FALSE(scores.has_reference);
  for (const auto& t : scores.rejected) {
    EXPECT_EQ(t.reference_logp, 0.0);
    EXPECT_EQ(t.logratio(), t.policy_logp);
  }
}
