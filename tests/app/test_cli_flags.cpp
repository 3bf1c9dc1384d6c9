// Bad command-line flags end as one "error: ..." line and exit code 2, never as an exception that
// escapes the flag parser (terminate) or CLI11's two-line text.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cli_runner.h"

namespace {

TEST(CliFlags, BadFlagValueIsOneErrorLineAndExit2) {
  struct Case {
    std::string args, line;
  };
  const std::vector<Case> cases = {
      {"train --loss sigmoid:abc,ipo:1 --steps 1",
       "error: --loss: \"abc\" is not a number (in \"sigmoid:abc\")"},
      {"train --loss sigmoid:nan --steps 1", "error: --loss: \"nan\" is not a number (in \"sigmoid:nan\")"},
      {"train --loss sigmoid:1e999 --steps 1",
       "error: --loss: \"1e999\" is not a number (in \"sigmoid:1e999\")"},
      {"train --truncation sideways --steps 1", "error: "},
      {"train --steps abc", "error: --steps: "},
      {"train --schedule wobbly", "error: --schedule: expected constant, linear or cosine"},
      {"--threads 0 train", "error: --threads "},
      {"train --no-such-flag", "error: "},
      {"train --loss foo", "error: --loss: unknown loss 'foo' (known: sigmoid, robust, ipo, "},
  };
  for (const auto& c : cases) {
    const auto r = run(c.args + " --out /nonexistent/dpo-cli-flags-run");
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.output;
    EXPECT_EQ(r.output.rfind(c.line, 0), 0u) << c.args << "\n" << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << c.args << "\n" << r.output;
  }
}

// A bad number is one plain line naming the flag and the rule (CLI11's own said "Value 0 not in range
// 0.000000 to 1797693134862315708..." with 309 digits).
TEST(CliFlags, BadNumbersNameTheRule) {
  struct Case {
    std::string args, line;
  };
  const std::vector<Case> cases = {
      {"train --lr 0", "error: --lr must be > 0"},
      {"train --lr -1e-4", "error: --lr must be > 0"},
      {"train --lr abc", "error: --lr: 'abc' is not a number"},
      {"train --lr inf", "error: --lr: 'inf' is not a number"},
      {"train --beta 0", "error: --beta must be > 0"},
      {"train --steps 0", "error: --steps must be an integer >= 1"},
      {"train --steps 2.5", "error: --steps must be an integer >= 1"},
      {"train --steps abc", "error: --steps: 'abc' is not a number"},
      {"train --batch 0", "error: --batch must be an integer >= 1"},
      {"train --eval-fraction 0.95", "error: --eval-fraction must be in [0, 0.9]"},
      {"train --label-smoothing 0.5", "error: --label-smoothing must be in [0, 0.49]"},
      {"train --lora-dropout 1", "error: --lora-dropout must be in [0, 1)"},
      {"train --warmup -1", "error: --warmup must be an integer >= 0"},
      {"train --warmup x", "error: --warmup: 'x' is not a number"},
      {"train --max-length 0", "error: --max-length must be an integer >= 1"},
      {"train --weight-decay -0.1", "error: --weight-decay must be >= 0"},
      {"train --seed -1", "error: --seed must be an integer >= 0"},
      {"train --simpo-gamma abc", "error: --simpo-gamma: 'abc' is not a number"},
      {"sft --lr 0", "error: --lr must be > 0"},
      {"--threads 0 train", "error: --threads must be an integer >= 1"},
      {"sweep --beta 0.1,0", "error: --beta must be > 0"},
      {"loop --scorer length --k 1", "error: --k must be an integer in [2, 256]"},
      {"eval --resamples 5", "error: --resamples must be an integer in [10, 1000000]"},
      {"beta --bins 0", "error: --bins must be an integer in [1, 1000]"},
      {"pairs --scorer length --out /nonexistent/p.jsonl --top-p 0", "error: --top-p must be in (0, 1]"},
      {"generate --model . --prompt hi --temperature -1", "error: --temperature must be >= 0"},
      {"diagnose . --beta 0", "error: --beta must be > 0"},
      {"loss --policy-chosen 1 --policy-rejected 0 --beta abc", "error: --beta: 'abc' is not a number"},
      {"data stats /dev/null --max-prompt-length -3", "error: --max-prompt-length must be an integer >= 0"},
      {"bench step --iters 0", "error: --iters must be an integer >= 1"},
  };
  for (const auto& c : cases) {
    const auto r = run(c.args);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.output;
    EXPECT_EQ(r.output, c.line + "\n") << c.args;
  }
}

// Every subcommand's --help: no CLI11 artefacts ("{false}" of a negated flag, ":POSITIVE", a range
// written out) and the documented exit codes under dpo --help.
TEST(CliFlags, HelpHasNoArtefactsAndTrueDefaults) {
  const auto top = run("--help");
  EXPECT_EQ(top.code, 0);
  EXPECT_NE(top.output.find("Exit codes: 0 done; 1 the command failed on its input"), std::string::npos)
      << top.output;
  EXPECT_NE(top.output.find("2 bad usage"), std::string::npos) << top.output;
  EXPECT_EQ(top.output.find("seed 002"), std::string::npos) << top.output;
  for (const std::string command : {"train", "sft", "make-demo", "generate", "tokenize", "inspect-model",
                                    "export", "diagnose", "loss", "data stats", "lesson run", "bench step",
                                    "bench compare", "eval", "rank", "beta", "sweep", "loop", "pairs"}) {
    const auto r = run(command + " --help");
    EXPECT_EQ(r.code, 0) << command;
    for (const char* artefact :
         {"{false}", "{true}", ":POSITIVE", ":NONNEGATIVE", "FLOAT in [", "INT in [", "1797693134"})
      EXPECT_EQ(r.output.find(artefact), std::string::npos) << command << " --help shows " << artefact << "\n"
                                                            << r.output;
  }
  const auto train = run("train --help");
  EXPECT_NE(train.output.find("default: the embedded demo model, a 2-layer Llama fitted by SFT"),
            std::string::npos)
      << train.output;
  EXPECT_EQ(train.output.find("a tiny random Llama for the demo"), std::string::npos);
  EXPECT_NE(train.output.find("--no-precompute-ref  "), std::string::npos) << train.output;
  // Ranges are stated where they apply.
  EXPECT_NE(train.output.find("share of pairs held out for evaluation (whole prompts); in [0, 0.9]"),
            std::string::npos)
      << train.output;
}

TEST(CliFlags, LossListNamesEveryLoss) {
  const auto r = run("loss --list");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("sigmoid ", 0), 0u) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 23) << r.output;  // the 23 of loss_table()
  for (const char* name : {"\nipo ", "\nkto ", "\nfdpo_alpha ", "\nsimpo "})
    EXPECT_NE(r.output.find(name), std::string::npos) << name;
}

// Usage errors exit 2, failures on the input 1, whatever throws them.
TEST(CliFlags, ExitCodes) {
  EXPECT_EQ(run("train --lr 0").code, 2);
  EXPECT_EQ(run("no-such-command").code, 2);
  EXPECT_EQ(run("data stats /dev/null").code, 1);
  EXPECT_EQ(run("diagnose /nonexistent/dpo-run").code, 1);
}

TEST(CliFlags, HelpStillExitsZero) {
  const auto r = run("train --help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.output.find("--loss"), std::string::npos);
}

}  // namespace
