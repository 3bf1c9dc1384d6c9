// dpo loop (issue 14): iterative DPO on the demo world with its programmatic reward as the scorer.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "cli_runner.h"
#include "run_files.h"

namespace fs = std::filesystem;

TEST(CliLoop, TrueRewardOfSampledAnswersRisesEveryRound) {
  const auto dir = fresh_dir("cli_loop", "loop");
  // 10 steps at lr 3e-4 a round: enough to move the tiny demo policy, not enough to overfit a round's
  // few dozen pairs (20 steps at 5e-4 made round 2's policy worse than round 1's). The sampling seed is
  // the same every round, so the rounds' scores differ by their policy, not by the draw.
  const auto r =
      run("--threads 2 loop --rounds 2 --k 8 --scorer true --max-new-tokens 24 --steps 10 --lr 3e-4 "
          "--beta 0.1 --eval-fraction 0 --quiet --out " +
          dir.string() + " --cache-dir " + dir.string() + "-cache");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto log = nlohmann::json::parse(bytes_of(dir / "loop.json"));
  ASSERT_EQ(log["rounds"].size(), 2u) << log;
  const double first = log["rounds"][0]["mean_score"], second = log["rounds"][1]["mean_score"],
               last = log["final_mean_score"];
  // Each round's policy samples answers the demo world rewards more than the one before it did.
  EXPECT_GT(second, first) << log;
  EXPECT_GT(last, second) << log;
  for (const auto* round : {"round-1", "round-2"}) {
    const auto pairs = records(dir / round / "pairs.jsonl");
    ASSERT_FALSE(pairs.empty()) << round;
    EXPECT_EQ(pairs.front()["provenance"]["scorer"], "true:1") << pairs.front();
    EXPECT_EQ(pairs.front()["provenance"]["sampling"]["k"], 8);
    EXPECT_TRUE(fs::is_directory(dir / round / "run" / "final")) << round;
    EXPECT_EQ(records(dir / round / "run" / "metrics.jsonl").size(), 10u) << round;
  }
  // Round 2 trained from round 1's model, which was its reference too.
  const auto config = nlohmann::json::parse(bytes_of(dir / "round-2" / "run" / "config.json"));
  EXPECT_EQ(fs::path(config["run"]["model"].get<std::string>()), dir / "round-1" / "run" / "final");
  // An existing folder is not reused without --overwrite; a model scorer is refused with one line.
  auto again = run("loop --rounds 1 --scorer true --out " + dir.string());
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.output.find("exists; choose a new --out or pass --overwrite"), std::string::npos)
      << again.output;
  again = run("loop --rounds 1 --scorer logprob --out " + dir.string() + "-x");
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.output.find("the loop takes text scorers"), std::string::npos) << again.output;
}
