// `dpo loss`: the loss calculator prints preference_loss() results as JSON.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_runner.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string>

namespace {

// The golden pair of tests/core/test_losses.cpp: a = +1, b = −1, |y_w| = 2, |y_l| = 4.
const std::string kPair =
    " --policy-chosen=-5,-3 --policy-rejected=-7,-3 --ref-chosen=-6,-3 --ref-rejected=-6,-3";
}  // namespace

TEST(CliLoss, SigmoidPrintsLossesRewardsAndWeights) {
  auto r = run("loss --type sigmoid --beta 0.5" + kPair, false);
  ASSERT_EQ(r.code, 0) << r.output;
  auto json = nlohmann::json::parse(r.output);
  ASSERT_EQ(json["pairs"].size(), 2u);
  const auto& p = json["pairs"][0];
  // βh = 1: −log σ(1) = 0.31326168751822286; weight σ(r_l − r_w) = σ(−1) = 0.2689414213699951
  EXPECT_NEAR(p["loss"].get<double>(), 0.31326168751822286, 1e-12);
  EXPECT_NEAR(p["chosen_reward"].get<double>(), 0.5, 1e-12);
  EXPECT_NEAR(p["rejected_reward"].get<double>(), -0.5, 1e-12);
  EXPECT_NEAR(p["reward_margin"].get<double>(), 1.0, 1e-12);
  EXPECT_NEAR(p["gradient_weight"].get<double>(), 0.2689414213699951, 1e-12);
  // π = π_ref: ln 2 and weight ½.
  EXPECT_NEAR(json["pairs"][1]["loss"].get<double>(), std::log(2.0), 1e-12);
  EXPECT_NEAR(json["pairs"][1]["gradient_weight"].get<double>(), 0.5, 1e-12);
  EXPECT_NEAR(json["mean_loss"].get<double>(), (0.31326168751822286 + std::log(2.0)) / 2, 1e-12);
}

TEST(CliLoss, SimpoUsesItsDefaultsAndIgnoresTheReference) {
  // β = 2, γ = 0.5: 2·(−2.5 + 1.75) − 0.5 = −2 → log(1 + e^2) = 2.1269280110429727
  auto r =
      run("loss --type simpo --policy-chosen=-5 --policy-rejected=-7 --ref-chosen=-1 --ref-rejected=-1 "
          "--chosen-lengths 2 --rejected-lengths 4",
          false);
  ASSERT_EQ(r.code, 0) << r.output;
  auto json = nlohmann::json::parse(r.output);
  EXPECT_EQ(json["beta"].get<double>(), 2.0);
  EXPECT_TRUE(json["reference_free"].get<bool>());
  EXPECT_NEAR(json["pairs"][0]["loss"].get<double>(), 2.1269280110429727, 1e-12);
}

TEST(CliLoss, CombinedTermsAndRpoAlpha) {
  // 1·sigmoid(β=1) + 0.5·sppo_hard(β=1) + 0.5·NLL: log(1 + e^−2) + 0.25 + 0.5·2.5
  auto r =
      run("loss --type sigmoid:1,sppo_hard:0.5 --beta 1 --rpo-alpha 0.5 --policy-chosen=-5 "
          "--policy-rejected=-7 --ref-chosen=-6 --ref-rejected=-6 --chosen-lengths 2 --rejected-lengths 4",
          false);
  ASSERT_EQ(r.code, 0) << r.output;
  auto json = nlohmann::json::parse(r.output);
  EXPECT_EQ(json["terms"].size(), 2u);
  EXPECT_NEAR(json["pairs"][0]["loss"].get<double>(), std::log1p(std::exp(-2.0)) + 0.25 + 1.25, 1e-12);
}

TEST(CliLoss, MarginOption) {
  // −log σ(1 − 0.5) = 0.4740769841801067
  auto r =
      run("loss --type margin --beta 0.5 --margin 0.5 --policy-chosen=-5 --policy-rejected=-7 "
          "--ref-chosen=-6 --ref-rejected=-6",
          false);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NEAR(nlohmann::json::parse(r.output)["pairs"][0]["loss"].get<double>(), 0.4740769841801067, 1e-12);
}

TEST(CliLoss, NegativeNumbersWithoutEquals) {
  auto r =
      run("loss --beta 0.5 --policy-chosen -5 --policy-rejected -7 --ref-chosen -6 --ref-rejected -6", false);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NEAR(nlohmann::json::parse(r.output)["pairs"][0]["loss"].get<double>(), 0.31326168751822286, 1e-12);
}

TEST(CliLoss, BadInputIsOneErrorLine) {
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {"loss --type sigmoid --policy-chosen=-5,-4 --policy-rejected=-7 --ref-chosen=-6 --ref-rejected=-6",
       "--policy-rejected has 1 values"},
      {"loss --type nonsense" + kPair, "unknown --type 'nonsense'"},
      {"loss --type ipo" + kPair, "--chosen-lengths"},
      {"loss --type sigmoid --policy-chosen=-5 --policy-rejected=-7", "--ref-chosen"},
      {"loss --type kto" + kPair, "unpaired"},
      {"loss", "--policy-chosen is required"},
  };
  for (const auto& c : cases) {
    auto r = run(c.args);
    EXPECT_EQ(r.code, 1) << c.args << "\n" << r.output;
    EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
}
