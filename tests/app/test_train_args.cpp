// The studio's "Copy run setup" line (app/session/train_args.h) read back by the real `dpo train`
// through a shell: `--print-config` must print exactly the options the line was made from.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "app/session/setup_file.h"
#include "app/session/train_args.h"
#include "cli_runner.h"
#include "core/types/loss_config.h"

namespace {

namespace fs = std::filesystem;
using dpo::app::RunOptions;
using nlohmann::json;

// Files and folders the flags' existence checks want, under names a shell would split or misquote.
class TrainArgs : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dpo train-args " + std::to_string(::getpid()) + " it's \"quoted\" $HOME `x` \\ *");
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "my model");
    fs::create_directories(dir_ / "ref model");
    for (const char* f : {"pairs file.jsonl", "tok enizer.json", "chat $(template).jinja"})
      std::ofstream(dir_ / f) << "{}\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const char* name) const { return (dir_ / name).string(); }

  // The options `dpo train` resolves the line to, as --print-config prints them.
  static json printed(const std::string& line) {
    EXPECT_EQ(line.rfind("dpo ", 0), 0u) << line;
    const auto r = run(line.substr(4) + " --print-config", /*with_stderr=*/false);
    EXPECT_EQ(r.code, 0) << line << "\n" << r.output;
    try {
      return json::parse(r.output);
    } catch (const json::exception&) {
      ADD_FAILURE() << line << "\nprinted: " << r.output;
      return {};
    }
  }

  static json expected(const RunOptions& o) {
    json j = o;
    j["cache_dir"] = o.cache_dir;
    j["no_cache"] = o.no_cache;
    return j;
  }

  static void expect_round_trip(const RunOptions& o, const std::string& what) {
    const auto command = dpo::app::train_command(o);
    EXPECT_TRUE(command.not_expressible.empty()) << what;
    const std::string line = dpo::app::train_command_line(o);
    const json got = printed(line);
    EXPECT_EQ(got, expected(o)) << what << "\n" << line << "\ndiff: " << json::diff(expected(o), got).dump();
  }

  fs::path dir_;
};

TEST_F(TrainArgs, DefaultsWriteNoFlags) {
  EXPECT_EQ(dpo::app::train_command_line(RunOptions{}), "dpo train");
  expect_round_trip(RunOptions{}, "defaults");
}

TEST_F(TrainArgs, OnlyTheChangesAreWrittenAndQuoted) {
  RunOptions o;
  o.data_path = "/data/my pairs.jsonl";
  o.trainer.loss.type = dpo::LossType::Ipo;
  o.trainer.loss.beta = 0.3;
  o.trainer.loss.simpo_gamma = -0.25;
  o.columns = "prompt=q,chosen=it's good";
  EXPECT_EQ(dpo::app::train_command_line(o),
            "dpo train --data '/data/my pairs.jsonl' --columns 'prompt=q,chosen=it'\\''s good' --loss ipo "
            "--beta 0.3 --simpo-gamma=-0.25");
}

TEST_F(TrainArgs, EveryLossWithItsOwnParameterRoundTrips) {
  for (const auto& info : dpo::loss_table()) {
    RunOptions o;
    auto& l = o.trainer.loss;
    l.type = info.type;
    l.beta = info.default_beta == 0.1 ? 0.25 : info.default_beta;
    switch (info.type) {
      case dpo::LossType::Sigmoid:
        l.label_smoothing = 0.2;
        break;
      case dpo::LossType::Robust:
        l.label_smoothing = 0.15;
        break;
      case dpo::LossType::Margin:
        l.margin_gamma = 2.5;
        break;
      case dpo::LossType::RdpoLength:
        l.length_alpha = 0.03;
        break;
      case dpo::LossType::Simpo:
        l.simpo_gamma = 1.3;
        break;
      case dpo::LossType::Orpo:
        l.orpo_lambda = 0.25;
        break;
      case dpo::LossType::Discopop:
        l.discopop_tau = 0.07;
        break;
      case dpo::LossType::FdpoAlpha:
        l.fdpo_alpha = 0.3;
        break;
      default:
        l.rpo_alpha = 0.5;
    }
    expect_round_trip(o, std::string(info.name));
  }
}

TEST_F(TrainArgs, DemoDataVariantsRoundTrip) {
  RunOptions o;
  o.data_path = "demo:noisy";  // no file, but a data path every run understands
  expect_round_trip(o, "demo:noisy");
}

TEST_F(TrainArgs, CombinationsAndReferenceSettingsRoundTrip) {
  RunOptions o;
  o.trainer.loss.terms = {{dpo::LossType::Sigmoid, 1.0}, {dpo::LossType::SppoHard, 0.5}};
  o.trainer.loss.wpo_weighting = true;
  o.trainer.loss.ld_alpha = 0.5;
  o.trainer.precompute_reference = false;
  o.trainer.sync_reference_every = 4;
  o.trainer.sync_reference_alpha = 0.3;
  expect_round_trip(o, "sigmoid:1,sppo_hard:0.5");

  RunOptions one;
  one.trainer.loss.terms = {{dpo::LossType::Ipo, 2.0}};  // a weighted single term stays a combination
  one.trainer.loss.type = dpo::LossType::Ipo;            // with terms, type is the first one's (and unread)
  expect_round_trip(one, "ipo:2");
}

TEST_F(TrainArgs, LoraAndEveryOtherSettingWithAwkwardPathsRoundTrips) {
  RunOptions o;
  o.data_path = path("pairs file.jsonl");
  o.model_dir = path("my model");
  o.reference_dir = path("ref model");
  o.tokenizer_path = path("tok enizer.json");
  o.chat_template_path = path("chat $(template).jinja");
  o.cache_dir = path("cache dir");
  o.no_cache = true;
  o.device = "cpu";
  o.format = "csv";
  o.layout = "standard";
  o.columns = "prompt=question,chosen=good answer,rejected=bad";
  o.on_bad_row = "skip";
  o.eval_fraction = 0.2;
  o.split_seed = 3;
  o.tokenize.max_length = 512;
  o.tokenize.max_prompt_length = 64;
  o.tokenize.max_completion_length = 200;
  o.tokenize.prompt_truncation = dpo::PromptTruncation::kKeepStart;
  o.model_seed = 7;
  o.lora.r = 8;
  o.lora.alpha = 32;
  o.lora.dropout = 0.05;
  o.lora.target_modules = {"q_proj", "v_proj"};
  auto& t = o.trainer;
  t.bf16_autocast = true;
  t.learning_rate = 0.1 + 0.2;  // 0.30000000000000004: needs all 17 digits
  t.loss.beta = 1.0 / 3;
  t.schedule = dpo::LrSchedule::Cosine;
  t.warmup_steps = 10;
  t.weight_decay = 0.01;
  t.max_grad_norm = 0.5;
  t.batch_size = 4;
  t.grad_accumulation = 2;
  t.seed = 42;
  t.group_by_length = true;
  t.max_steps = 33;
  t.eval_every = 5;
  t.max_nonfinite_steps = 5;
  expect_round_trip(o, "everything");
}

TEST_F(TrainArgs, SftUsesItsOwnSubcommandAndDefaults) {
  RunOptions o;
  o.trainer.objective = dpo::Objective::Sft;
  o.trainer.learning_rate = 1e-3;  // dpo sft's own default
  o.trainer.max_steps = 10;
  EXPECT_EQ(dpo::app::train_command_line(o), "dpo sft --steps 10");
  expect_round_trip(o, "sft");
}

TEST_F(TrainArgs, SettingsWithoutAFlagAreNamed) {
  RunOptions o;
  o.trainer.loss.type = dpo::LossType::Kto;
  o.trainer.loss.kto_desirable_weight = 1.5;
  o.trainer.adam_beta2 = 0.95;
  const auto c = dpo::app::train_command(o);
  EXPECT_EQ(c.args, (std::vector<std::string>{"--loss", "kto"}));
  EXPECT_EQ(c.not_expressible, (std::vector<std::string>{"trainer.desirable_weight", "trainer.adam_beta2"}));
}

// `dpo train --setup FILE`: the file's settings, with the other flags over them wherever they stand.
TEST_F(TrainArgs, SetupFileTrainsItsSettingsAndFlagsOverrideThem) {
  dpo::app::SetupFile setup;
  setup.run.data_path = path("pairs file.jsonl");
  setup.run.trainer.loss.type = dpo::LossType::Ipo;
  setup.run.trainer.loss.beta = 0.3;
  setup.run.trainer.max_steps = 40;
  setup.run.lora.r = 4;
  setup.lesson = "2";
  const auto file = dir_ / "class setup.dposetup";
  dpo::app::write_setup_file(file, setup);
  const std::string quoted = dpo::app::shell_quote(file.string());

  auto r = run("train --setup " + quoted + " --print-config", false);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(json::parse(r.output), expected(setup.run));

  auto overridden = setup.run;
  overridden.trainer.loss.beta = 0.7;
  overridden.trainer.max_steps = 5;
  r = run("train --beta 0.7 --setup " + quoted + " --steps 5 --print-config", false);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(json::parse(r.output), expected(overridden));

  r = run("sft --setup " + quoted + " --print-config");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_EQ(r.output, "error: " + file.string() + ": a preference setup: train it with dpo train --setup\n");

  std::ofstream(dir_ / "bad.dposetup") << R"({"format": "dpo-studio-setup", "version": 1,
    "run": {"trainer": {"beta": 0}}})";
  r = run("train --setup " + dpo::app::shell_quote((dir_ / "bad.dposetup").string()) + " --print-config");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_EQ(r.output, "error: " + (dir_ / "bad.dposetup").string() +
                          ": run.trainer.beta: expected a number > 0, got 0\n");

  r = run("train --setup " + quoted + " --resume " + dpo::app::shell_quote(dir_.string()));
  EXPECT_NE(r.code, 0) << r.output;
  EXPECT_EQ(r.output, "error: --setup starts a new run; --resume continues one with its own settings\n");
}

}  // namespace
