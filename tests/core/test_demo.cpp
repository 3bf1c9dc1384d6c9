#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/data/demo_world.h"
#include "core/data/jsonl_reader.h"
#include "core/demo/demo_datasets.h"
#include "core/demo/sampled_reward.h"
#include "core/demo/true_reward.h"
#include "core/io/hf_folder.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/sentencepiece_tokenizer.h"
#include "core/tokenizer/tokenizer_config.h"
#include "resources/demo_assets.h"

namespace {
std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

TEST(DemoWorld, CommittedFilesMatchTheGenerator) {
  // resources/demo is made by `dpo make-demo`; a hand edit or a generator change shows up here.
  const auto world = dpo::generate_demo_world(dpo::resources::kDemoSeed, dpo::resources::kDemoPairs);
  EXPECT_EQ(read_file(std::string(DPO_SOURCE_DEMO_DIR) + "/preferences.jsonl"),
            dpo::preference_jsonl(world.pairs));
  EXPECT_EQ(read_file(std::string(DPO_SOURCE_DEMO_DIR) + "/corpus.txt"), world.corpus);
  EXPECT_EQ(dpo::resources::demo_preferences_jsonl(), dpo::preference_jsonl(world.pairs));
}

TEST(DemoWorld, IsDeterministicAndFollowsItsRules) {
  const auto a = dpo::generate_demo_world(42, 30), b = dpo::generate_demo_world(42, 30);
  EXPECT_EQ(dpo::preference_jsonl(a.pairs), dpo::preference_jsonl(b.pairs));
  EXPECT_NE(dpo::preference_jsonl(a.pairs), dpo::preference_jsonl(dpo::generate_demo_world(43, 30).pairs));
  // Arithmetic pairs: the chosen answer is the true sum, the rejected one is not.
  for (size_t i = 0; i < a.pairs.size(); i += 3) {
    const auto& p = a.pairs[i];
    int x = 0, y = 0, chosen = 0, rejected = 0;
    ASSERT_EQ(std::sscanf(p.prompt.c_str(), "Question: what is %d + %d?", &x, &y), 2) << p.prompt;
    ASSERT_EQ(std::sscanf(p.chosen.c_str(), " %*d + %*d = %d.", &chosen), 1) << p.chosen;
    ASSERT_EQ(std::sscanf(p.rejected.c_str(), " %*d + %*d = %d.", &rejected), 1) << p.rejected;
    EXPECT_EQ(chosen, x + y);
    EXPECT_NE(rejected, x + y);
  }
}

TEST(DemoWorld, EmbeddedTokenizerCoversTheCorpus) {
  auto tok = dpo::SentencePieceTokenizer::from_bytes(dpo::resources::demo_tokenizer_model(), "demo");
  EXPECT_GE(tok->vocab_size(), 200);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_EQ(tok->pad_id(), 3);
  auto pairs = dpo::parse_preference_jsonl(dpo::resources::demo_preferences_jsonl(), "demo");
  ASSERT_EQ(pairs.size(), dpo::resources::kDemoPairs);
  for (const auto& p : pairs) {
    for (const auto* text : {&p.prompt, &p.chosen, &p.rejected}) {
      auto ids = tok->encode(*text);
      EXPECT_EQ(std::count(ids.begin(), ids.end(), 0), 0) << "unknown piece in: " << *text;
    }
  }
}

TEST(DemoWorld, CommittedVariantsMatchTheGenerator) {
  // Every dataset file make-demo writes, byte for byte, from the generator in this build.
  for (const auto& d : dpo::demo_datasets()) {
    const auto committed = read_file(std::string(DPO_SOURCE_DEMO_DIR) + "/" + d.file);
    ASSERT_FALSE(committed.empty()) << d.file;
    EXPECT_EQ(committed,
              dpo::demo_dataset_jsonl(d.name, dpo::resources::kDemoSeed, dpo::resources::kDemoPairs))
        << d.file;
  }
  // A small slice by hand: the first clean pair, as the generator's first draws make it.
  const auto first = read_file(std::string(DPO_SOURCE_DEMO_DIR) + "/preferences.jsonl").substr(0, 200);
  const auto pair = dpo::demo_clean_pairs(dpo::resources::kDemoSeed, 1).at(0);
  EXPECT_EQ(first.substr(0, first.find('\n') + 1), dpo::preference_jsonl({pair}));
}

TEST(TrueReward, ArithmeticIsCorrectness) {
  EXPECT_EQ(dpo::arithmetic_reward("Question: what is 3 + 4?\nAnswer:", " 3 + 4 = 7."), 1.0);
  EXPECT_EQ(dpo::arithmetic_reward("Question: what is 3 + 4?\nAnswer:", " 3 + 4 = 8."), 0.0);
  EXPECT_EQ(dpo::arithmetic_reward("Question: what is 9 + 9?\nAnswer:", "9 + 9 = 18. I checked it."), 1.0);
  EXPECT_EQ(dpo::arithmetic_reward("Question: what is 9 + 9?\nAnswer:", " eighteen"), 0.0);
  EXPECT_EQ(dpo::arithmetic_reward("Question: what is 9 + 9?\nAnswer:", " = 1"), 0.0);
  EXPECT_EQ(dpo::true_reward("Question: what is 2 + 2?\nAnswer:", " 2 + 2 = 4.").task,
            dpo::DemoTask::Arithmetic);
}

TEST(TrueReward, LexiconsCountWords) {
  // "Sure, happy to help you with that.": sure, happy, help are polite, nothing rude: 0.5·(1 + 3/3).
  EXPECT_DOUBLE_EQ(dpo::politeness_reward(" Sure, happy to help you with that."), 1.0);
  // "No. Do it yourself.": no, yourself rude: 0.5·(1 − 2/2).
  EXPECT_DOUBLE_EQ(dpo::politeness_reward(" No. Do it yourself."), 0.0);
  // "Sure, go away.": sure (+1), away (−1): 0.5.
  EXPECT_DOUBLE_EQ(dpo::politeness_reward("Sure, go away."), 0.5);
  // "happy but cold and sad": 1 happy, 2 sad: 0.5·(1 − 1/3).
  EXPECT_DOUBLE_EQ(dpo::sentiment_reward("happy but cold and sad"), 0.5 * (1.0 - 1.0 / 3.0));
  EXPECT_DOUBLE_EQ(dpo::sentiment_reward("the the the"), 0.5);
  EXPECT_EQ(
      dpo::true_reward("Story: the boy met a new friend. In the end, the boy", " laughed with joy.").reward,
      1.0);
  EXPECT_EQ(dpo::true_reward("Hello", " 1 + 1 = 2.").reward, 0.0);
}

TEST(DemoDatasets, VariantsHaveTheirStatedProperties) {
  const auto seed = dpo::resources::kDemoSeed;
  const size_t n = dpo::resources::kDemoPairs;
  const auto clean = dpo::demo_clean_pairs(seed, n);
  for (const auto& p : clean)
    EXPECT_GT(dpo::true_reward(p.prompt, p.chosen).reward, dpo::true_reward(p.prompt, p.rejected).reward)
        << p.prompt;

  std::vector<size_t> flipped;
  const auto noisy = dpo::demo_noisy_pairs(seed, n, 0.25, &flipped);
  ASSERT_EQ(flipped.size(), 60u);  // 0.25 · 240
  size_t swapped = 0;
  for (size_t i = 0; i < n; ++i)
    swapped += noisy[i].chosen == clean[i].rejected && noisy[i].rejected == clean[i].chosen;
  EXPECT_EQ(swapped, 60u);
  EXPECT_TRUE(std::is_sorted(flipped.begin(), flipped.end()));

  // length-biased: chosen always longer; better in about half the pairs (a fair coin: 120 ± 3σ = ±23).
  size_t better = 0;
  for (const auto& p : dpo::demo_length_biased_pairs(seed, n)) {
    EXPECT_GT(p.chosen.size(), p.rejected.size());
    better += dpo::true_reward(p.prompt, p.chosen).reward > dpo::true_reward(p.prompt, p.rejected).reward;
  }
  EXPECT_GT(better, 97u);
  EXPECT_LT(better, 143u);

  const auto scored = dpo::demo_scored_pairs(seed, n);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(*scored[i].score_chosen, dpo::true_reward(clean[i].prompt, clean[i].chosen).reward);
    EXPECT_EQ(*scored[i].score_rejected, dpo::true_reward(clean[i].prompt, clean[i].rejected).reward);
  }
  const auto unpaired = dpo::demo_unpaired_examples(seed, n);
  ASSERT_EQ(unpaired.size(), 2 * n);
  EXPECT_EQ(unpaired[0].completion, clean[0].chosen);
  EXPECT_TRUE(unpaired[0].label);
  EXPECT_EQ(unpaired[1].completion, clean[0].rejected);
  EXPECT_FALSE(unpaired[1].label);

  const auto eval = dpo::demo_eval_pairs(seed);
  ASSERT_EQ(eval.size(), dpo::kDemoEvalPairs);
  EXPECT_NE(dpo::preference_jsonl(eval),
            dpo::preference_jsonl(dpo::demo_clean_pairs(seed, dpo::kDemoEvalPairs)));
  for (const auto& p : eval) EXPECT_GT(*p.score_chosen, *p.score_rejected);
}

TEST(DemoModel, IsAHuggingFaceFolderWithAChatTemplate) {
  const std::string dir = std::string(DPO_SOURCE_DEMO_DIR) + "/model";
  auto loaded = dpo::load_hf_model(dir);
  // LlamaConfig::tiny(400), tied: 400·64 + 2·(64·64 + 2·64·32 + 64·64 + 3·64·176 + 2·64) + 64 = 118,080.
  EXPECT_EQ(loaded.config.parameter_count(), 118080);
  EXPECT_EQ(read_file(dir + "/tokenizer.model"), std::string(dpo::resources::demo_tokenizer_model()));
  const auto config = dpo::read_tokenizer_config(dir + "/tokenizer_config.json");
  ASSERT_TRUE(config.chat_template);
  const auto tmpl = dpo::ChatTemplate::parse(*config.chat_template, "demo chat template");
  nlohmann::json context = {{"messages",
                             {{{"role", "user"}, {"content", "User: may I sit here?\nAssistant:"}},
                              {{"role", "assistant"}, {"content", "Of course."}}}},
                            {"bos_token", "<s>"},
                            {"eos_token", "</s>"}};
  EXPECT_EQ(tmpl.render(context), "<s>User: may I sit here?\nAssistant: Of course.</s>");
  // The embedded copy is the same folder, byte for byte.
  ASSERT_FALSE(dpo::resources::demo_model_files().empty());
  for (const auto& f : dpo::resources::demo_model_files())
    EXPECT_EQ(read_file(dir + "/" + std::string(f.name)), std::string(f.bytes)) << f.name;
}

TEST(DemoModel, WritesMiddlingAnswersThatTheScorerCanRank) {
  // SFT'd on good and bad answers alike: its greedy answers to the held-out prompts are neither all
  // right nor all wrong, so DPO has room to raise the true reward (lesson first-run).
  auto loaded = dpo::load_hf_model(std::string(DPO_SOURCE_DEMO_DIR) + "/model");
  auto tok = dpo::SentencePieceTokenizer::from_bytes(dpo::resources::demo_tokenizer_model(), "demo");
  std::vector<std::string> prompts;
  for (const auto& p : dpo::demo_eval_pairs(dpo::resources::kDemoSeed))
    if (std::find(prompts.begin(), prompts.end(), p.prompt) == prompts.end()) prompts.push_back(p.prompt);
  const auto sampled = dpo::sample_true_reward(loaded.model, *tok, prompts);
  ASSERT_EQ(sampled.answers.size(), prompts.size());
  EXPECT_GT(sampled.mean_reward, 0.2);
  EXPECT_LT(sampled.mean_reward, 0.8);
  double sum = 0;
  for (const auto& a : sampled.answers) {
    EXPECT_EQ(a.reward, dpo::true_reward(a.prompt, a.answer).reward);
    sum += a.reward;
  }
  EXPECT_DOUBLE_EQ(sampled.mean_reward, sum / static_cast<double>(prompts.size()));
}
