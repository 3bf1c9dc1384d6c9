// dpo eval and dpo rank end to end on a short demo run (issue 14).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

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
