// dpo sweep (issue 14): the recommendation rule on hand-made cells, and a small sweep end to end.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>

#include "app/session/sweep.h"
#include "cli_runner.h"
#include "core/runtime/error.h"
#include "run_files.h"

namespace fs = std::filesystem;
using dpo::app::SweepCell;

namespace {
SweepCell make(double beta, double accuracy, double kl, dpo::LossType loss = dpo::LossType::Sigmoid) {
  SweepCell c;
  c.beta = beta;
  c.loss = loss;
  c.heldout_accuracy = accuracy;
  c.sampled_kl = kl;
  return c;
}
}  // namespace

TEST(SweepRecommendation, LeastKlWithinOnePointOfTheBest) {
  // β 0.3 is the most accurate (0.93); β 0.1 is within 1 point (0.925) at a third of its KL.
  std::vector<SweepCell> cells = {make(0.01, 0.80, 0.02), make(0.1, 0.925, 0.12), make(0.3, 0.93, 0.36),
                                  make(1.0, 0.90, 0.50)};
  const auto r = dpo::app::recommend_cell(cells);
  EXPECT_EQ(r.index, 1u);
  EXPECT_EQ(r.reason,
            "β 0.1 (sigmoid): held-out accuracy 92.5%, within 1 point of the best (93.0%, β 0.3 (sigmoid)) "
            "with 0.33× its KL (0.12 vs 0.36 nats)");
}

TEST(SweepRecommendation, TheBestWhenNothingIsClose) {
  std::vector<SweepCell> cells = {make(0.1, 0.70, 0.1), make(0.3, 0.90, 0.3)};
  const auto r = dpo::app::recommend_cell(cells);
  EXPECT_EQ(r.index, 1u);
  EXPECT_EQ(r.reason, "β 0.3 (sigmoid): the highest held-out accuracy (90.0%)");
  // Without a KL for every candidate (a reference-free loss), the most accurate; ties to the smaller β.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  cells = {make(0.5, 0.90, nan, dpo::LossType::Simpo), make(0.2, 0.90, 0.3), make(1.0, 0.895, 0.01)};
  EXPECT_EQ(dpo::app::recommend_cell(cells).index, 1u);
  EXPECT_THROW(dpo::app::recommend_cell({}), dpo::ConfigError);
  EXPECT_THROW(dpo::app::recommend_cell({make(0.1, nan, 0.1)}), dpo::ConfigError);
}

TEST(CliSweep, RunsEveryCellOnceAndResumes) {
  const auto dir = fresh_dir("cli_sweep", "sweep");
  const std::string flags =
      "--threads 2 sweep --beta 0.05,0.5 --loss sigmoid,ipo --steps 6 --lr 1e-3 --out " + dir.string() +
      " --cache-dir " + dir.string() + "-cache";
  auto r = run(flags + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("recommended: β "), std::string::npos) << r.output;
  const auto sweep = nlohmann::json::parse(bytes_of(dir / "sweep.json"));
  ASSERT_EQ(sweep["cells"].size(), 4u);
  for (const auto& name : {"sigmoid-b0.05", "sigmoid-b0.5", "ipo-b0.05", "ipo-b0.5"}) {
    EXPECT_TRUE(fs::is_regular_file(dir / name / "sweep_cell.json")) << name;
    EXPECT_TRUE(fs::is_directory(dir / name / "final")) << name;
    EXPECT_EQ(records(dir / name / "metrics.jsonl").size(), 6u) << name;
  }
  // Every cell starts from the same model and the same data order: step 1 is π = π_ref for all, so the
  // first sigmoid loss is ln 2 at both β.
  for (const auto& name : {"sigmoid-b0.05", "sigmoid-b0.5"})
    EXPECT_NEAR(records(dir / name / "metrics.jsonl")[0]["loss"].get<double>(), std::log(2.0), 1e-4) << name;
  for (const auto& c : sweep["cells"]) {
    EXPECT_GE(c["heldout_accuracy"].get<double>(), 0.0);
    EXPECT_TRUE(c.contains("true_reward")) << c;  // the demo's data: the programmatic reward is measured
    EXPECT_TRUE(c.contains("sampled_kl")) << c;
  }
  const std::string recommended = sweep["recommendation"]["cell"];
  EXPECT_TRUE(fs::is_directory(dir / recommended)) << recommended;

  // The same command again reuses every cell.
  r = run(flags + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  size_t reused = 0;
  for (size_t at = r.output.find("(reused)"); at != std::string::npos; at = r.output.find("(reused)", at + 1))
    ++reused;
  EXPECT_EQ(reused, 4u) << r.output;
  EXPECT_EQ(nlohmann::json::parse(bytes_of(dir / "sweep.json"))["recommendation"]["cell"], recommended);

  // Other settings in the same folder are refused, and nothing there changes.
  const auto before = bytes_of(dir / "sweep.json");
  r = run("sweep --beta 0.1 --loss sigmoid --steps 2 --out " + dir.string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("holds a sweep with other settings"), std::string::npos) << r.output;
  EXPECT_EQ(bytes_of(dir / "sweep.json"), before);
}
