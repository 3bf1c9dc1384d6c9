// core/generate/stream.h: the Playground's streamed single-prompt generation, answer log-probs
// and incremental detokenization.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "core/generate/stream.h"
#include "core/io/hf_folder.h"
#include "core/tokenizer/sentencepiece_tokenizer.h"
#include "decisive_model.h"
#include "resources/demo_assets.h"

namespace {

using dpo::testing::decisive_random_model;

const std::vector<int64_t> kPrompt = {1, 5, 9, 13};

}  // namespace

TEST(Stream, GreedyStreamedTokensEqualGenerate) {
  auto model = decisive_random_model();
  dpo::GenerationConfig config;
  config.max_new_tokens = 20;
  const auto batch = dpo::generate(model, {kPrompt}, 0, config).front();
  std::vector<int64_t> streamed;
  const auto single = dpo::generate_stream(model, kPrompt, config, [&](int64_t t) {
    streamed.push_back(t);
    return true;
  });
  EXPECT_EQ(streamed, batch.tokens);
  EXPECT_EQ(single.tokens, batch.tokens);
  EXPECT_EQ(streamed.size(), 20u);
  EXPECT_EQ(single.finish, dpo::FinishReason::Length);
}

TEST(Stream, SampledStreamedTokensEqualGenerateForTheSameSeed) {
  auto model = decisive_random_model();
  dpo::GenerationConfig config;
  config.max_new_tokens = 16;
  config.temperature = 1.5;
  config.seed = 7;
  const auto batch = dpo::generate(model, {kPrompt}, 0, config).front();
  std::vector<int64_t> streamed;
  dpo::generate_stream(model, kPrompt, config, [&](int64_t t) {
    streamed.push_back(t);
    return true;
  });
  EXPECT_EQ(streamed, batch.tokens);
}

TEST(Stream, CallbackReturningFalseStops) {
  auto model = decisive_random_model();
  dpo::GenerationConfig config;
  config.max_new_tokens = 20;
  const auto full = dpo::generate(model, {kPrompt}, 0, config).front();
  int calls = 0;
  const auto cut = dpo::generate_stream(model, kPrompt, config, [&](int64_t) { return ++calls < 5; });
  EXPECT_EQ(calls, 5);
  ASSERT_EQ(cut.tokens.size(), 5u);
  EXPECT_EQ(cut.tokens, std::vector<int64_t>(full.tokens.begin(), full.tokens.begin() + 5));
  EXPECT_EQ(cut.finish, dpo::FinishReason::Cancelled);
}

TEST(Stream, AnswerLogpFollowsTheChainRuleAndMatchesAFullForward) {
  auto model = decisive_random_model();
  const std::vector<int64_t> a = {3, 4, 8}, b = {20, 2};
  std::vector<int64_t> ab = a;
  ab.insert(ab.end(), b.begin(), b.end());
  std::vector<int64_t> prompt_a = kPrompt;
  prompt_a.insert(prompt_a.end(), a.begin(), a.end());
  model->train();
  const double whole = dpo::answer_logp(model, kPrompt, ab);
  EXPECT_TRUE(model->is_training());  // restored
  EXPECT_NEAR(whole, dpo::answer_logp(model, kPrompt, a) + dpo::answer_logp(model, prompt_a, b), 1e-3);
  EXPECT_EQ(dpo::answer_logp(model, kPrompt, {}), 0.0);

  // By hand: log_softmax of the logits at each answer position, gathered at the answer token.
  model->eval();
  torch::NoGradGuard no_grad;
  std::vector<int64_t> row = kPrompt;
  row.insert(row.end(), ab.begin(), ab.end());
  const auto T = static_cast<int64_t>(row.size());
  const auto logits = model(torch::tensor(row).view({1, T}), torch::ones({1, T}, torch::kLong));
  const auto logp = logits.log_softmax(-1);
  double expected = 0;
  for (size_t k = 0; k < ab.size(); ++k)
    expected += logp[0][static_cast<int64_t>(kPrompt.size() + k - 1)][ab[k]].item<double>();
  EXPECT_NEAR(whole, expected, 1e-3);
  EXPECT_LT(whole, 0.0);
}

TEST(Stream, TextPiecesConcatenateToTheDecodedAnswerOnTheDemoModel) {
  const auto dir =
      dpo::resources::unpack_demo_model((std::filesystem::temp_directory_path() / "dpo-studio").string());
  if (dir.empty()) GTEST_SKIP() << "no embedded demo model";
  auto tokenizer = dpo::SentencePieceTokenizer::from_bytes(dpo::resources::demo_tokenizer_model(), "demo");
  auto loaded = dpo::load_hf_model(dir, {.dtype = torch::kFloat32});
  std::vector<int64_t> prompt = {*tokenizer->bos_id()};
  for (int id : tokenizer->encode("Question: what is 7 + 7?\nAnswer:")) prompt.push_back(id);
  dpo::GenerationConfig config;
  config.max_new_tokens = 24;
  config.stop_token_ids = {*tokenizer->eos_id()};
  dpo::TextStream text(*tokenizer);
  std::string streamed;
  int non_empty = 0;
  const auto out = dpo::generate_stream(loaded.model, prompt, config, [&](int64_t t) {
    const auto piece = text.push(t);
    non_empty += piece.empty() ? 0 : 1;
    streamed += piece;
    return true;
  });
  streamed += text.finish();
  const std::vector<int> ids(out.tokens.begin(), out.tokens.end());
  EXPECT_EQ(streamed, tokenizer->decode(ids));
  EXPECT_GT(non_empty, 1);
  EXPECT_NE(streamed.find("14"), std::string::npos) << streamed;  // the SFT'd demo model answers sums
}
