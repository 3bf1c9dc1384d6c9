// What a run's max lengths cut, counted before training (dpo data stats, the studio's Dataset tab).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/data/dataset_stats.h"
#include "core/data/tokenize.h"
#include "core/tokenizer/load_tokenizer.h"
#include "shared_data.h"

namespace {

dpo::TokenizedPair pair(size_t prompt, size_t chosen, size_t rejected) {
  dpo::TokenizedPair p;
  p.prompt_ids.assign(prompt, 7);
  p.chosen_ids.assign(chosen, 8);
  p.rejected_ids.assign(rejected, 9);
  return p;
}

dpo::TokenizeOptions limits(int64_t max_length, int64_t max_prompt, int64_t max_completion) {
  dpo::TokenizeOptions o;
  o.max_length = max_length;
  o.max_prompt_length = max_prompt;
  o.max_completion_length = max_completion;
  return o;
}

}  // namespace

TEST(DatasetStats, CountsWhatEachLimitCuts) {
  dpo::TokenizedDataset d;
  d.pairs = {pair(10, 3, 3), pair(4, 9, 2), pair(4, 3, 3), pair(6, 7, 7)};
  dpo::TokenizedUnpaired u;
  u.prompt_ids.assign(2, 1);
  u.completion_ids.assign(12, 1);
  d.unpaired = {u};
  // max_length 12, prompts kept to 6, answers to 8.
  const auto c = dpo::count_truncation(d, limits(12, 6, 8));
  EXPECT_EQ(c.rows, 5u);
  EXPECT_EQ(c.prompts_over, 1u);          // 10
  EXPECT_EQ(c.answers, 9u);               // 4 pairs x 2 + 1
  EXPECT_EQ(c.answers_over, 2u);          // 9, 12
  EXPECT_EQ(c.rows_over_max_length, 3u);  // 4+9, 6+7, 2+12 (the 10-token prompt is kept to 6: 6+3)
  EXPECT_EQ(c.rows_cut, 4u);              // all but (4, 3, 3)
  EXPECT_EQ(c.rows_failing, 0u);
  EXPECT_EQ(dpo::truncation_warnings(c),
            (std::vector<std::string>{
                "1 of 5 prompts is longer than --max-prompt-length 6 tokens (it will be cut: keep_end)",
                "2 of 9 answers are longer than --max-completion-length 8 tokens (their ends will be cut)",
                "3 of 5 rows are longer than --max-length 12 tokens as prompt + longer answer (the answers' "
                "ends will be cut)",
                "in all, 4 of 5 rows will be truncated"}));

  // No own prompt limit: a 10-token prompt under max_length 10 leaves no room at all.
  auto keep_start = limits(10, 0, 0);
  keep_start.prompt_truncation = dpo::PromptTruncation::kKeepStart;
  const auto f = dpo::count_truncation(d, keep_start);
  EXPECT_EQ(f.prompts_over, 0u);
  EXPECT_EQ(f.rows_failing, 1u);
  EXPECT_EQ(f.answers_over, 0u);
  EXPECT_EQ(f.rows_over_max_length, 3u);  // 4+9, 6+7, 2+12
  const dpo::LimitNames names{.max_length = "Max length"};
  EXPECT_EQ(
      dpo::truncation_warnings(f, names).front(),
      "3 of 5 rows are longer than Max length 10 tokens as prompt + longer answer (the answers' ends will "
      "be cut)");
  EXPECT_EQ(dpo::truncation_warnings(dpo::count_truncation(d, limits(100, 0, 0))),
            std::vector<std::string>{});
}

// Counted on real token lengths, the arithmetic agrees with what tokenize_dataset then cuts.
TEST(DatasetStats, AgreesWithTheTokenizersOwnTruncation) {
  const auto dir = shared_data("tokenizers/phi2_gpt2_bpe");
  DPO_REQUIRE_SHARED_FILE(dir + "/tokenizer.json");
  const auto loaded = dpo::load_tokenizer(dir);
  dpo::PreferenceDataset data;
  data.source = "test";
  // Token counts from the ids pinned in test_bpe_tokenizer.cpp: 8, 2, 6, 2, 2 (+1 EOS on answers).
  data.pairs = {{.prompt = "Hello, world! It's 2024.", .chosen = "Hello world", .rejected = "return n"},
                {.prompt = "Hello world", .chosen = "I'll we've they're", .rejected = "abc x"},
                {.prompt = "return n", .chosen = "Hello world", .rejected = "abc x"}};
  for (size_t i = 0; i < data.pairs.size(); ++i) data.pairs[i].line = i + 1;
  auto options = limits(8, 4, 5);
  options.add_bos = loaded.add_bos;
  const auto cut = dpo::tokenize_dataset(*loaded.tokenizer, data, options);
  const auto full = dpo::tokenize_dataset(*loaded.tokenizer, data, dpo::untruncated(options));
  ASSERT_EQ(full.pairs.size(), 3u);
  EXPECT_EQ(full.pairs[0].prompt_ids.size(), 8u);
  EXPECT_EQ(full.pairs[1].chosen_ids.size(), 7u);
  const auto stats = dpo::compute_dataset_stats(data, full, &cut, &options);
  ASSERT_TRUE(stats.truncation.has_value());
  EXPECT_EQ(stats.truncation->prompts_over, cut.report.prompt_truncated);
  EXPECT_EQ(stats.truncation->prompts_over, 1u);
  EXPECT_EQ(stats.truncation->rows_cut, 2u);
  size_t rows_cut = 0;
  for (const auto& p : cut.pairs) rows_cut += p.prompt_truncated || p.completion_truncated;
  EXPECT_EQ(stats.truncation->rows_cut, rows_cut);
  EXPECT_EQ(stats.warnings.back(), "in all, 2 of 3 rows will be truncated");
}
