// dpo data stats counts tokens with the model folder's tokenizer (as dpo train does) and says what
// the run's max lengths would cut.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../core/shared_data.h"
#include "cli_runner.h"

namespace fs = std::filesystem;

namespace {

// Token counts of these texts under the Phi-2 (GPT-2) BPE: their ids are pinned in
// tests/core/test_bpe_tokenizer.cpp. Completions get the tokenizer's EOS (<|endoftext|>) appended.
//   "Hello, world! It's 2024."  8    "Hello world"  2    "I'll we've they're"  6
//   "return n"                  2    "abc x"        2
fs::path write_pairs() {
  const auto file = fs::temp_directory_path() / ("dpo_cli_data_" + std::to_string(getpid()) + ".jsonl");
  std::ofstream(file)
      << R"({"prompt": "Hello, world! It's 2024.", "chosen": "Hello world", "rejected": "return n"})"
         "\n"
      << R"({"prompt": "Hello world", "chosen": "I'll we've they're", "rejected": "abc x"})"
         "\n"
      << R"({"prompt": "return n", "chosen": "Hello world", "rejected": "abc x"})"
         "\n";
  return file;
}

}  // namespace

TEST(CliData, CountsWithTheModelsTokenizerAndWarnsWhatTheLimitsCut) {
  const auto phi2 = shared_data("tokenizers/phi2_gpt2_bpe");
  DPO_REQUIRE_SHARED_FILE(phi2 + "/tokenizer.json");
  const auto file = write_pairs();
  const std::string limits = " --max-length 8 --max-prompt-length 4 --max-completion-length 5";

  const auto json = run("data stats " + file.string() + " --model " + phi2 + limits + " --json", false);
  ASSERT_EQ(json.code, 0) << json.output;
  const auto j = nlohmann::json::parse(json.output);
  // Prompts 8, 2, 2 (no BOS: the config does not ask for one); answers +1 for EOS.
  EXPECT_EQ(j["prompt_tokens"]["max"], 8);
  EXPECT_EQ(j["prompt_tokens"]["min"], 2);
  EXPECT_DOUBLE_EQ(j["prompt_tokens"]["mean"].get<double>(), 4.0);
  EXPECT_EQ(j["chosen_tokens"]["max"], 7);
  EXPECT_DOUBLE_EQ(j["chosen_tokens"]["mean"].get<double>(), 13.0 / 3);
  EXPECT_EQ(j["rejected_tokens"]["max"], 3);
  const auto& t = j["truncation"];
  EXPECT_EQ(t["rows"], 3);
  EXPECT_EQ(t["prompts_over"], 1);  // 8 > 4
  EXPECT_EQ(t["answers"], 6);
  EXPECT_EQ(t["answers_over"], 1);          // "I'll we've they're" + EOS = 7 > 5
  EXPECT_EQ(t["rows_over_max_length"], 1);  // row 2: 2 + 7 > 8; row 1: 4 (kept) + 3 <= 8
  EXPECT_EQ(t["rows_cut"], 2);
  // The tokenizer's own truncation report agrees.
  EXPECT_EQ(j["prompt_truncated"], 1);
  EXPECT_EQ(j["completion_truncated"], 1);
  EXPECT_EQ(j["tokenizer"], "the tokenizer of " + phi2 + " (tokenizer.json (BPE))");

  const auto text = run("data stats " + file.string() + " --model " + phi2 + limits);
  ASSERT_EQ(text.code, 0) << text.output;
  for (const std::string& line : std::vector<std::string>{
           "warning: 1 of 3 prompts is longer than --max-prompt-length 4 tokens (it will be cut: keep_end)\n",
           "warning: 1 of 6 answers is longer than --max-completion-length 5 tokens (its end will be cut)\n",
           "warning: 1 of 3 rows is longer than --max-length 8 tokens as prompt + longer answer "
           "(the answers' ends will be cut)\n",
           "warning: in all, 2 of 3 rows will be truncated\n",
           "tokens counted with: the tokenizer of " + phi2 + " (tokenizer.json (BPE))\n"})
    EXPECT_NE(text.output.find(line), std::string::npos) << line << "\n" << text.output;
  fs::remove(file);
}

TEST(CliData, DefaultsAreTrainsAndNothingCutIsNoWarning) {
  const auto file = write_pairs();
  const auto r = run("data stats " + file.string() + " --json", false);
  ASSERT_EQ(r.code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["truncation"]["max_length"], 256);
  EXPECT_EQ(j["truncation"]["max_prompt_length"], 128);
  EXPECT_EQ(j["truncation"]["max_completion_length"], 0);
  EXPECT_EQ(j["truncation"]["prompt_truncation"], "keep_end");
  EXPECT_EQ(j["truncation"]["rows_cut"], 0);
  EXPECT_EQ(j["warnings"], nlohmann::json::array());
  EXPECT_EQ(j["tokenizer"], "the embedded demo model's tokenizer");
  const auto help = run("data stats --help");
  EXPECT_NE(help.output.find("--max-length INT=256"), std::string::npos) << help.output;
  EXPECT_NE(help.output.find("--max-prompt-length INT=128"), std::string::npos) << help.output;
  fs::remove(file);
}
