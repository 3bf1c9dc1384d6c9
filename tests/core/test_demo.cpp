#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/data/demo_world.h"
#include "core/data/jsonl_reader.h"
#include "core/tokenizer/sentencepiece_tokenizer.h"
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
  EXPECT_EQ(read_file(std::string(DPO_SOURCE_DEMO_DIR) + "/preferences.jsonl"), dpo::preference_jsonl(world.pairs));
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
