#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "core/data/collator.h"
#include "core/data/jsonl_reader.h"
#include "core/data/tokenize.h"
#include "core/runtime/error.h"
#include "core/tokenizer/sentencepiece_tokenizer.h"
#include "shared_data.h"

namespace {
const std::string kSpModel = shared_data("tokenizers/sentencepiece/test_model.model");

std::string error_of(const std::string& text) {
  try {
    dpo::parse_preference_jsonl(text, "pairs.jsonl");
  } catch (const dpo::DataError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST(Jsonl, ReadsRowsAndLines) {
  auto pairs = dpo::parse_preference_jsonl(
      "{\"prompt\":\"a\",\"chosen\":\" b\",\"rejected\":\" "
      "c\"}\n\n{\"prompt\":\"d\",\"chosen\":\"e\",\"rejected\":\"f\"}\n",
      "x");
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].chosen, " b");
  EXPECT_EQ(pairs[1].line, 3u);
}

TEST(Jsonl, ErrorsNameFileLineAndField) {
  const std::string ok = "{\"prompt\":\"a\",\"chosen\":\"b\",\"rejected\":\"c\"}\n";
  EXPECT_EQ(error_of(ok + "{\"prompt\":\"a\",\"chosen\":\"b\"}\n"),
            "pairs.jsonl:2: missing field \"rejected\"");
  EXPECT_EQ(error_of(ok + ok + "{\"prompt\":1,\"chosen\":\"b\",\"rejected\":\"c\"}"),
            "pairs.jsonl:3: field \"prompt\" must be a string, got number");
  EXPECT_EQ(error_of("{\"prompt\":\"a\",\"chosen\":\"\",\"rejected\":\"c\"}"),
            "pairs.jsonl:1: field \"chosen\" is empty");
  EXPECT_EQ(error_of("{\"prompt\":\"a\",\"chosen\":\"b\",\"rejected\":\"b\"}"),
            "pairs.jsonl:1: \"chosen\" and \"rejected\" are identical");
  EXPECT_EQ(error_of(ok + "[1,2]"), "pairs.jsonl:2: expected a JSON object, got array");
  EXPECT_TRUE(error_of(ok + "{not json").starts_with("pairs.jsonl:2: invalid JSON"));
  EXPECT_THROW(dpo::read_preference_jsonl("/nonexistent/file.jsonl"), dpo::DataError);
}

TEST(SentencePiece, MatchesPythonSentencepieceIds) {
  DPO_REQUIRE_SHARED_FILE(kSpModel);
  // Ids from Python sentencepiece on the same model (shared/pitfalls.md §1).
  auto tok = dpo::SentencePieceTokenizer::from_file(kSpModel);
  EXPECT_EQ(tok->encode("I saw a girl with a telescope."),
            (std::vector<int>{9, 459, 11, 939, 44, 11, 4, 142, 82, 8, 28, 21, 132, 6}));
  EXPECT_EQ(tok->vocab_size(), 1000);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_FALSE(tok->pad_id().has_value());
  EXPECT_EQ(tok->piece(4), "\xE2\x96\x81");
  auto ids = tok->encode("I saw a girl with a telescope.");
  EXPECT_EQ(tok->decode(ids), "I saw a girl with a telescope.");
  // torch still works in this process after sentencepiece ran (the pitfall this guards against).
  EXPECT_EQ(torch::ones({2, 2}).sum().item<float>(), 4.0f);
}

TEST(SentencePiece, BadModelFileIsAClearError) {
  auto path = std::filesystem::temp_directory_path() / "dpo_not_a_model.model";
  std::ofstream(path) << "this is not a protobuf";
  try {
    dpo::SentencePieceTokenizer::from_file(path.string());
    FAIL() << "no error";
  } catch (const dpo::TokenizerError& e) {
    EXPECT_TRUE(std::string(e.what()).starts_with(path.string() + ": not a sentencepiece model"));
  }
}

TEST(Tokenize, PromptIsPrefixWithOneBosAndEos) {
  DPO_REQUIRE_SHARED_FILE(kSpModel);
  auto tok = dpo::SentencePieceTokenizer::from_file(kSpModel);
  dpo::PreferencePair pair{"I saw a girl", " with a telescope.", " with a hat.", 7};
  auto t = dpo::tokenize_pair(*tok, pair, {});
  EXPECT_EQ(t.prompt_ids.front(), 1);
  EXPECT_EQ(std::count(t.prompt_ids.begin(), t.prompt_ids.end(), 1), 1);
  EXPECT_EQ(t.chosen_ids.back(), 2);
  EXPECT_EQ(t.rejected_ids.back(), 2);
  auto prompt = tok->encode("I saw a girl");
  EXPECT_EQ(std::vector<int64_t>(t.prompt_ids.begin() + 1, t.prompt_ids.end()),
            std::vector<int64_t>(prompt.begin(), prompt.end()));
  EXPECT_EQ(t.line, 7u);
}

TEST(Tokenize, TruncationKeepsPromptEndAndCutsCompletions) {
  DPO_REQUIRE_SHARED_FILE(kSpModel);
  auto tok = dpo::SentencePieceTokenizer::from_file(kSpModel);
  dpo::PreferencePair pair{"I saw a girl with a telescope. I saw a girl with a telescope.",
                           " I saw a girl with a telescope.", " no.", 1};
  auto t = dpo::tokenize_pair(*tok, pair, {.max_length = 12, .max_prompt_length = 5});
  EXPECT_EQ(t.prompt_ids.size(), 5u);
  EXPECT_EQ(t.prompt_ids[0], 1);
  EXPECT_EQ(t.prompt_ids.back(), 6);  // "." ends the prompt: its end was kept
  EXPECT_EQ(t.chosen_ids.size(), 7u);
  EXPECT_LE(t.prompt_ids.size() + t.rejected_ids.size(), 12u);
}

TEST(Collator, ChosenRowsThenRejectedRowsWithMasks) {
  std::vector<dpo::TokenizedPair> pairs = {{{1, 5}, {7, 2}, {8, 9, 2}, 1}, {{1}, {6, 2}, {4, 2}, 2}};
  auto batch = dpo::collate_pairs(pairs, 0);
  EXPECT_EQ(batch.pairs, 2);
  auto expected_ids = torch::tensor({1, 5, 7, 2, 0,  //
                                     1, 6, 2, 0, 0,  //
                                     1, 5, 8, 9, 2,  //
                                     1, 4, 2, 0, 0},
                                    torch::kLong)
                          .view({4, 5});
  EXPECT_TRUE(torch::equal(batch.input_ids, expected_ids));
  auto expected_response = torch::tensor({0, 0, 1, 1, 0,  //
                                          0, 1, 1, 0, 0,  //
                                          0, 0, 1, 1, 1,  //
                                          0, 1, 1, 0, 0},
                                         torch::kFloat32)
                               .view({4, 5});
  EXPECT_TRUE(torch::equal(batch.response_mask, expected_response));
  EXPECT_EQ(batch.attention_mask.sum().item<int64_t>(), 4 + 3 + 5 + 3);
}
