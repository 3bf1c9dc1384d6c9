// dpo eval and dpo rank end to end on a short demo run (issue 14).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <string>

#include "cli_runner.h"
#include "run_files.h"

namespace fs = std::filesystem;

namespace {

// A demo run with checkpoints at steps 10 and 20 (and final/ = step 20), made once.
const fs::path& demo_run() {
  static const fs::path dir = [] {
    const auto d = fresh_dir("cli_eval", "run");
    const auto r =
        run("--threads 2 train --steps 20 --checkpoint-every 10 --lr 1e-3 --eval-every 0 --quiet "
            "--out " +
            d.string() + " --cache-dir " + (d.string() + "-cache"));
    if (r.code != 0) throw std::runtime_error("demo run failed: " + r.output);
    return d;
  }();
  return dir;
}

std::string cache() { return " --cache-dir " + demo_run().string() + "-cache"; }

}  // namespace

TEST(CliEval, ScoresATrainedModelAgainstItsRunsStart) {
  const auto out = demo_run().parent_path() / "eval-final";
  const auto r = run("--threads 2 eval --quiet --no-sample --model " + (demo_run() / "final").string() +
                     " --out " + out.string() + cache());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("reference: the demo model (the run's start)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(95% bootstrap; a tie counts as wrong)"), std::string::npos) << r.output;
  const auto report = nlohmann::json::parse(bytes_of(out / "eval.json"));
  EXPECT_EQ(report["pairs"], 240);  // every demo pair
  EXPECT_EQ(report["scoring"], "implicit");
  // 20 steps of DPO at lr 1e-3 on these very pairs: well above chance, with an interval around it.
  const double acc = report["accuracy"]["estimate"];
  EXPECT_GT(acc, 0.6);
  EXPECT_LT(report["accuracy"]["lower"].get<double>(), acc);
  EXPECT_GT(report["accuracy"]["upper"].get<double>(), acc);
  EXPECT_GT(report["mean_margin"]["estimate"].get<double>(), 0.0);
  const auto pairs = records(out / "pairs.jsonl");
  ASSERT_EQ(pairs.size(), 240u);
  size_t right = 0;
  for (const auto& p : pairs) right += p["misranked"] == false;
  EXPECT_DOUBLE_EQ(static_cast<double>(right) / 240.0, acc);
}

// The starting model against itself: every margin is 0, a tie, so accuracy is 0, not 50%.
TEST(CliEval, TiesCountAsWrong) {
  const auto out = demo_run().parent_path() / "eval-start";
  const auto start = demo_run() / "checkpoints" / "step-000010" / "model";
  const auto r = run("--threads 2 eval --quiet --no-sample --model " + start.string() + " --reference " +
                     start.string() + " --out " + out.string() + cache());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(bytes_of(out / "eval.json"))["accuracy"]["estimate"], 0.0);
}

TEST(CliEval, ReferenceFreeScoringAndBadChoicesAreOneLine) {
  const auto r = run("--threads 2 eval --quiet --no-sample --reference none --score mean" + cache());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("reference: none"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("scoring: mean"), std::string::npos) << r.output;
  auto bad = run("eval --no-sample --reference none --score implicit" + cache());
  EXPECT_EQ(bad.code, 1);
  EXPECT_EQ(bad.output, "error: --score implicit needs a reference model (--reference DIR)\n");
  bad = run("eval --score median" + cache());
  EXPECT_EQ(bad.code, 1);
  EXPECT_EQ(bad.output, "error: --score: expected implicit, sum, mean or simpo, got \"median\"\n");
  bad = run("rank --models " + demo_run().string() + "/final");
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.output.find("at least two models"), std::string::npos) << bad.output;
}

// The run's checkpoints on the same pairs: later ones rank higher, and --select best names the
// winner, exports it and says whether the gap is real.
TEST(CliEval, RanksARunsCheckpointsAndSelectsTheBest) {
  const auto out = demo_run().parent_path() / "rank";
  const auto exported = demo_run().parent_path() / "best";
  const auto r = run("--threads 2 rank --quiet --no-sample --run " + demo_run().string() +
                     " --select best --export " + exported.string() + " --out " + out.string() + cache());
  ASSERT_EQ(r.code, 0) << r.output;
  const auto table = nlohmann::json::parse(bytes_of(out / "rank.json"))["models"];
  ASSERT_EQ(table.size(), 3u);  // step 10, step 20, final
  double step10 = -1, step20 = -1, final_acc = -1;
  for (const auto& row : table) {
    const std::string model = row["model"];
    if (model.find("step-000010") != std::string::npos) step10 = row["accuracy"]["estimate"];
    if (model.find("step-000020") != std::string::npos) step20 = row["accuracy"]["estimate"];
    if (model.ends_with("final")) final_acc = row["accuracy"]["estimate"];
  }
  EXPECT_GE(step20, step10);
  EXPECT_DOUBLE_EQ(final_acc, step20);  // the same weights
  EXPECT_NE(table[2]["model"].get<std::string>().find("step-000010"), std::string::npos);
  EXPECT_NE(r.output.find("best: "), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(exported / "model.safetensors"));
  EXPECT_TRUE(fs::exists(out / "rank.csv"));
  // --export into an existing folder is refused before anything runs.
  const auto again =
      run("rank --run " + demo_run().string() + " --select best --export " + exported.string());
  EXPECT_EQ(again.code, 1);
}

// The β explorer on dpo eval's records: its weights are σ(−β(a − b)) pair by pair, averaged here by hand.
TEST(CliBeta, ExploresTheEvaluatedPairsOfATrainedModel) {
  const auto out = demo_run().parent_path() / "eval-for-beta";
  auto r = run("--threads 2 eval --quiet --no-sample --model " + (demo_run() / "final").string() + " --out " +
               out.string() + cache());
  ASSERT_EQ(r.code, 0) << r.output;
  r = run("beta --pairs " + (out / "pairs.jsonl").string() +
          " --betas 0.1,1 --loss sigmoid,ipo --bins 5 --json");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["pairs"], 240);
  ASSERT_EQ(j["cells"].size(), 4u);  // sigmoid × 2 β, ipo × 2 β
  double expected = 0, saturated = 0;
  for (const auto& p : records(out / "pairs.jsonl")) {
    const double h = p["logratio/chosen"].get<double>() - p["logratio/rejected"].get<double>();
    const double w = 1.0 / (1.0 + std::exp(h));  // β = 1
    expected += w / 240;
    saturated += (w < 0.05) / 240.0;
  }
  const auto& cell = j["cells"][1];
  EXPECT_EQ(cell["loss"], "sigmoid");
  EXPECT_EQ(cell["beta"], 1.0);
  EXPECT_NEAR(cell["mean_weight"].get<double>(), expected, 1e-9);
  EXPECT_NEAR(cell["saturated"].get<double>(), saturated, 1e-12);
  size_t counted = 0;
  for (const auto& n : cell["histogram"]["counts"]) counted += n.get<size_t>();
  EXPECT_EQ(counted, 240u);
  EXPECT_EQ(j["cells"][2]["loss"], "ipo");
  // The table form names the losses and prints one line per β.
  r = run("beta --pairs " + (out / "pairs.jsonl").string() + " --betas 0.1,1");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("saturated"), std::string::npos) << r.output;
  // A run: its last evaluation (the final one, at step 20, on its held-out pairs).
  r = run("beta --run " + demo_run().string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find(" from " + demo_run().string() + " at step 20\n"), std::string::npos) << r.output;
  r = run("beta --run " + demo_run().string() + " --step 7");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.output, "error: " + demo_run().string() + ": no evaluated pairs at step 7\n");
  r = run("beta --pairs " + (out / "pairs.jsonl").string() + " --loss simpo");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("does not read log-ratios against a reference"), std::string::npos) << r.output;
}

// Head to head: the run's checkpoints answer the same demo prompts, the demo world's true reward
// judges; Bradley–Terry orders them as their answers' true reward does.
TEST(CliRank, HeadToHeadOrdersCheckpointsByTheirTrueReward) {
  const auto out = demo_run().parent_path() / "h2h";
  const auto r =
      run("--threads 2 rank --run " + demo_run().string() +
          " --head-to-head --judge true --length-control --max-prompts 24 --max-new-tokens 24 --quiet "
          "--out " +
          out.string() + cache());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("Bradley-Terry strength [95% bootstrap], length-controlled"), std::string::npos)
      << r.output;
  const auto j = nlohmann::json::parse(bytes_of(out / "rank.json"));
  ASSERT_EQ(j["models"].size(), 3u);  // step 10, step 20, final (= step 20)
  EXPECT_EQ(j["comparisons"], 24 * 3);
  for (const auto& x : j["models"])
    for (const auto& y : j["models"]) {
      const double ds = x["mean_score"].get<double>() - y["mean_score"].get<double>();
      const double dt = x["strength"]["estimate"].get<double>() - y["strength"]["estimate"].get<double>();
      if (ds > 0.02) {
        EXPECT_GT(dt, 0.0) << x << "\n" << y;
      }
      EXPECT_LE(x["strength"]["lower"].get<double>(), x["strength"]["estimate"].get<double>());
    }
  // final/ is step 20's model: the same answers, every comparison between them a tie.
  double final_strength = 0, step20_strength = 0;
  for (const auto& x : j["models"]) {
    const std::string m = x["model"];
    if (m.find("final") != std::string::npos) final_strength = x["strength"]["estimate"];
    if (m.find("step-000020") != std::string::npos) step20_strength = x["strength"]["estimate"];
  }
  EXPECT_NEAR(final_strength, step20_strength, 1e-6);
  EXPECT_TRUE(fs::is_regular_file(out / "rank.csv"));
}
