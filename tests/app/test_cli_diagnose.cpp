// `dpo diagnose`: the findings for a metrics.jsonl written here and for recorded runs
// (tests/core/fixtures/diagnose), in words and as JSON; `--explain ID`.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_runner.h"

namespace fs = std::filesystem;

namespace {

// One TRL-named record, as dpo train writes it.
nlohmann::json record(int step, double loss, double chosen, double rejected, double accuracy) {
  return {{"step", step},
          {"epoch", 0},
          {"loss", loss},
          {"rewards/chosen", chosen},
          {"rewards/rejected", rejected},
          {"rewards/margins", chosen - rejected},
          {"rewards/accuracies", accuracy},
          {"logps/chosen", -50.0},
          {"logps/rejected", -55.0},
          {"length/chosen", 30.0},
          {"length/rejected", 29.0},
          {"learning_rate", 5e-6},
          {"grad_norm", 1.0},
          {"tokens", 1000 * step},
          {"elapsed_seconds", 0.5 * step}};
}

class CliDiagnose : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        fs::temp_directory_path() /
        ("dpo-test-diagnose-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }

  // 120 steps where the policy never leaves the reference: margins alternate 0.001 / 0.003 and
  // the loss 0.6925 / 0.6915, so the medians of the last 30 steps are 0.002 and 0.692.
  std::string stuck_run() {
    std::string lines;
    for (int i = 1; i <= 120; ++i) {
      const bool odd = i % 2 == 1;
      lines +=
          record(i, odd ? 0.6925 : 0.6915, odd ? 0.0015 : 0.0005, odd ? 0.0005 : -0.0025, 0.5).dump() + "\n";
    }
    return lines;
  }

  fs::path dir_;
};

}  // namespace

TEST_F(CliDiagnose, BetaTooHighFromARunDirectory) {
  write("metrics.jsonl", stuck_run());
  write("config.json", R"({"loss": {"type": "sigmoid", "beta": 0.5}})");
  const auto r = run("diagnose " + dir_.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("120 steps, β 0.5 (from config.json)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("warning [beta_too_high] The reward margin is stuck at zero (β may be too high)\n"),
            std::string::npos)
      << r.output;
  EXPECT_NE(
      r.output.find("  evidence: after 120 steps, margin 0.002 and loss 0.692 ≈ ln 2 = 0.693 (medians of "
                    "steps 91–120, β = 0.5)\n"),
      std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("  try:      Lower β"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("  more:     dpo diagnose --explain beta_too_high\n"), std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("seed 002"), std::string::npos) << r.output;
}

TEST_F(CliDiagnose, JsonWithBetaFlagOnAFile) {
  write("metrics.jsonl", stuck_run());
  const auto r = run("diagnose " + (dir_ / "metrics.jsonl").string() + " --beta 2 --json", false);
  ASSERT_EQ(r.code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["steps"], 120);
  EXPECT_EQ(j["beta"], 2.0);
  EXPECT_EQ(j["beta_source"], "--beta");
  ASSERT_EQ(j["findings"].size(), 1u) << r.output;
  EXPECT_EQ(j["findings"][0]["id"], "beta_too_high");
  EXPECT_EQ(j["findings"][0]["severity"], "warning");
  EXPECT_EQ(j["findings"][0]["step"], 120);
  EXPECT_FALSE(j["findings"][0].contains("reference"));
  EXPECT_NE(j["findings"][0]["explanation"].get<std::string>().find("ln 2"), std::string::npos) << r.output;
  EXPECT_EQ(j["evaluations"], 0);
}

TEST_F(CliDiagnose, HealthyRunIsAllClear) {
  // Margin rising 0 → 0.85 (β = 0.1, rejected log-ratio falling), loss log(1 + e^−margin).
  std::string lines;
  for (int i = 1; i <= 60; ++i) {
    const double t = i / 60.0;
    const double chosen = 0.1 * 0.5 * t, rejected = 0.1 * -8.0 * t;
    lines +=
        record(i, std::log1p(std::exp(rejected - chosen)), chosen, rejected, 0.5 + 0.4 * t).dump() + "\n";
  }
  write("metrics.jsonl", lines);
  const auto r = run("diagnose " + dir_.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("β 0.1 (assumed; pass --beta)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("All clear: no warning sign in 60 steps."), std::string::npos) << r.output;
}

TEST_F(CliDiagnose, BetaFromTheRecordsWhenNoConfig) {
  auto first = record(1, 0.69, 0, 0, 0.5), second = record(2, 0.69, 0, 0, 0.5);
  first["beta"] = 0.25;
  second["beta"] = 0.25;
  write("metrics.jsonl", first.dump() + "\n" + second.dump() + "\n");
  const auto r = run("diagnose " + dir_.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("2 steps, β 0.25 (from metrics.jsonl)"), std::string::npos) << r.output;
}

TEST_F(CliDiagnose, NullIsReadAsNonFinite) {
  auto bad = record(2, 0.69, 0.0, 0.0, 0.5);
  bad["loss"] = nullptr;  // how nlohmann writes a NaN
  write("metrics.jsonl", record(1, 0.69, 0.0, 0.0, 0.5).dump() + "\n" + bad.dump() + "\n");
  const auto r = run("diagnose " + dir_.string() + " --json", false);
  ASSERT_EQ(r.code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  ASSERT_EQ(j["findings"].size(), 1u) << r.output;
  EXPECT_EQ(j["findings"][0]["id"], "non_finite");
  EXPECT_EQ(j["findings"][0]["severity"], "error");
  EXPECT_EQ(j["findings"][0]["evidence"], "at step 2: loss = nan; 1 of 2 steps have non-finite values");
}

TEST_F(CliDiagnose, BadLinesNameFileAndLine) {
  const std::string path = (dir_ / "metrics.jsonl").string();
  write("metrics.jsonl", record(1, 0.69, 0, 0, 0.5).dump() + "\n\n{not json\n");
  auto r = run("diagnose " + path);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.output, "error: " + path + ":3: expected one JSON object per line (a StepMetrics record)\n");

  auto missing = record(1, 0.69, 0, 0, 0.5);
  missing.erase("rewards/margins");
  write("metrics.jsonl", missing.dump() + "\n");
  r = run("diagnose " + path);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.output, "error: " + path +
                          ":1: expected a metrics record with TRL's keys: key 'rewards/margins' not found\n");

  r = run("diagnose " + (dir_ / "absent").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.output, "error: " + (dir_ / "absent").string() + ": no such file or directory\n");
}

namespace {

const fs::path kRecorded = fs::path(__FILE__).parent_path().parent_path() / "core/fixtures/diagnose";

}  // namespace

// The demo's default run as `dpo train` wrote it (trimmed): a note about the data, no warning.
TEST(CliDiagnoseRecorded, DefaultDemoRunHasNoWarning) {
  const auto r = run("diagnose " + (kRecorded / "default_b0.1").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("200 steps, 8 evaluations, β 0.1 (from config.json)"), std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("warning ["), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("info [length_bias_in_data]"), std::string::npos) << r.output;
}

// The held-out loss comes from eval.jsonl beside metrics.jsonl.
TEST(CliDiagnoseRecorded, OverfittingFromEvalJsonl) {
  const auto r = run("diagnose " + (kRecorded / "overfit_40pairs_b1_lr1e-3").string() + " --json", false);
  ASSERT_EQ(r.code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["evaluations"], 10);
  bool found = false;
  for (const auto& f : j["findings"]) {
    if (f["id"] != "overfitting") continue;
    found = true;
    EXPECT_EQ(f["severity"], "warning");
    EXPECT_EQ(f["title"], "Held-out loss is rising while training loss falls (overfitting)");
    EXPECT_EQ(f["step"], 100);
    EXPECT_NE(f["explanation"].get<std::string>().find("memorising"), std::string::npos);
  }
  EXPECT_TRUE(found) << r.output;
}

TEST(CliDiagnoseExplain, PrintsTheRulesBackground) {
  const auto r = run("diagnose --explain overfitting");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("overfitting: Overfitting: held-out loss rising\n\n", 0), 0u) << r.output;
  EXPECT_NE(r.output.find("ln 2"), std::string::npos) << r.output;
  // Wrapped for a terminal: paragraphs kept, no line past 80 bytes but for a long word.
  EXPECT_NE(r.output.find("\n\n", 40), std::string::npos) << r.output;
  size_t start = 0;
  for (size_t end; (end = r.output.find('\n', start)) != std::string::npos; start = end + 1)
    EXPECT_LE(end - start, 80u) << r.output.substr(start, end - start);
}

TEST(CliDiagnoseExplain, EveryRuleIdWorksAndAWrongOneListsThem) {
  for (const char* id : {"non_finite", "beta_too_high", "beta_too_low", "chosen_logp_falling", "overfitting",
                         "learning_rate_too_high", "accuracy_saturated_early", "bimodal_margins",
                         "length_exploitation", "length_bias_in_data"}) {
    const auto r = run(std::string("diagnose --explain ") + id);
    EXPECT_EQ(r.code, 0) << id << ": " << r.output;
    EXPECT_EQ(r.output.rfind(std::string(id) + ": ", 0), 0u) << r.output;
    EXPECT_GT(r.output.size(), 400u) << id;
  }
  const auto r = run("diagnose --explain overfit");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(
      r.output.find("error: --explain: no finding 'overfit'; the findings are: non_finite, beta_too_high"),
      std::string::npos)
      << r.output;
}
