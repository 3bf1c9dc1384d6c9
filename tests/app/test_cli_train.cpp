// dpo train / dpo sft end to end: run files, SFT then DPO (kill-and-resume: test_cli_resume).
#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "cli_runner.h"
#include "run_files.h"

namespace fs = std::filesystem;

namespace {
fs::path fresh_dir(const std::string& name) { return fresh_dir("cli_train", name); }
}  // namespace

TEST(CliTrain, RunDirectoryHoldsConfigEvalAndPairRecords) {
  auto dir = fresh_dir("files");
  auto r = run("--threads 2 train --steps 4 --eval-every 2 --beta 0.2 --lr 2e-3 --quiet --no-cache --out " +
               dir.string());
  ASSERT_EQ(r.code, 0) << r.output;
  auto config = nlohmann::json::parse(bytes_of(dir / "config.json"));
  EXPECT_EQ(config["run"]["trainer"]["beta"], 0.2);
  EXPECT_EQ(config["run"]["trainer"]["learning_rate"], 2e-3);
  EXPECT_EQ(config["run"]["trainer"]["loss_type"], "sigmoid");
  EXPECT_EQ(config["train_pairs"].get<int>() + config["eval_pairs"].get<int>(), 240);
  auto evals = records(dir / "eval.jsonl");
  ASSERT_EQ(evals.size(), 2u);
  EXPECT_EQ(evals[1]["step"], 4);
  auto pairs = records(dir / "pairs.jsonl");
  EXPECT_EQ(pairs.size(), 2 * config["eval_pairs"].get<size_t>());
  for (const auto& p : pairs) EXPECT_EQ(p["misranked"], !(p["margin"].get<double>() > 0));
  auto metrics = records(dir / "metrics.jsonl");
  for (const char* key :
       {"logits/chosen", "num_tokens", "tokens_per_second", "learning_rate", "grad_norm", "beta"})
    EXPECT_TRUE(metrics[0].contains(key)) << key;
  fs::remove_all(dir);
}

// seed 002 §6: no SFT model? Fit one on the chosen completions, then run DPO from it.
TEST(CliTrain, SftThenDpoFromTheSftModel) {
  auto dir = fresh_dir("sft");
  // Text the demo model has never seen (it is already SFT'd on the demo world), so fitting it shows.
  fs::create_directories(dir);
  {
    std::ofstream data(dir / "colours.jsonl");
    const char* things[] = {"sky", "grass", "snow", "coal", "blood", "sun", "sea", "leaf"};
    const char* colours[] = {"blue", "green", "white", "black", "red", "yellow", "blue", "green"};
    for (int i = 0; i < 8; ++i)
      data << "{\"prompt\": \"Colour of the " << things[i] << ":\", \"chosen\": \" the " << things[i]
           << " is " << colours[i] << ".\", \"rejected\": \" purple.\"}\n";
  }
  auto sft = run("--threads 2 sft --steps 15 --lr 3e-3 --eval-every 0 --no-cache --data " +
                 (dir / "colours.jsonl").string() + " --out " + (dir / "sft").string());
  ASSERT_EQ(sft.code, 0) << sft.output;
  auto nll = records(dir / "sft" / "metrics.jsonl");
  ASSERT_EQ(nll.size(), 15u);
  EXPECT_LT(nll.back()["loss"].get<double>(), nll.front()["loss"].get<double>() - 1.0);
  auto dpo = run("--threads 2 train --steps 3 --quiet --no-cache --model " +
                 (dir / "sft" / "final").string() + " --out " + (dir / "dpo").string());
  ASSERT_EQ(dpo.code, 0) << dpo.output;
  auto first = records(dir / "dpo" / "metrics.jsonl").front();
  EXPECT_NEAR(first["loss"].get<double>(), 0.6931471805599453, 1e-5);  // π = π_ref = the SFT model
  fs::remove_all(dir);
}
