// The setup file (.dposetup) reader and writer: a written file reads back as the same settings, and
// every bad key is refused with one line naming the file, the key and what was expected.
#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "app/session/setup_file.h"
#include "core/runtime/error.h"

namespace {

namespace fs = std::filesystem;
using dpo::app::SetupFile;
using nlohmann::json;

class SetupFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dpo setup-file " + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "data");
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name) << text;
    return dir_ / name;
  }

  // The message read_setup_file throws for `run`'s JSON text, or "" when it reads.
  std::string error_for(const std::string& text) const {
    const auto file = write("bad.dposetup", text);
    try {
      dpo::app::read_setup_file(file);
    } catch (const dpo::ConfigError& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

TEST_F(SetupFileTest, WrittenSetupReadsBackTheSameAndKeepsPathsInsideItsFolderRelative) {
  SetupFile setup;
  setup.run.data_path = (dir_ / "data" / "class pairs.jsonl").string();
  setup.run.model_dir = "/models/qwen2 0.5b";  // outside the folder: stays absolute
  setup.run.trainer.loss.type = dpo::LossType::Simpo;
  setup.run.trainer.loss.simpo_gamma = 0.8;
  setup.run.trainer.loss.beta = 2.0;
  setup.run.trainer.learning_rate = 3e-5;
  setup.run.trainer.max_steps = 60;
  setup.run.lora.r = 8;
  setup.run.lora.target_modules = {"q_proj", "v_proj"};
  setup.run.device = "cpu";
  setup.lesson = "beta-too-high";
  setup.tab = "dataset";
  const auto file = dir_ / "lesson.dposetup";
  dpo::app::write_setup_file(file, setup);

  std::ifstream in(file);
  const json on_disk = json::parse(in);
  EXPECT_EQ(on_disk["format"], "dpo-studio-setup");
  EXPECT_EQ(on_disk["version"], 1);
  EXPECT_EQ(on_disk["run"]["data"], "data/class pairs.jsonl");
  EXPECT_EQ(on_disk["run"]["model"], "/models/qwen2 0.5b");
  EXPECT_EQ(on_disk["lesson"], "beta-too-high");

  const auto back = dpo::app::read_setup_file(file);
  EXPECT_EQ(json(back.run), json(setup.run));
  EXPECT_EQ(back.lesson, "beta-too-high");
  EXPECT_EQ(back.tab, "dataset");
}

TEST_F(SetupFileTest, LeftOutSettingsKeepTheDefaults) {
  auto setup =
      dpo::app::read_setup_file(write("min.dposetup", R"({"format": "dpo-studio-setup", "version": 1})"));
  EXPECT_EQ(json(setup.run), json(dpo::app::RunOptions{}));
  EXPECT_TRUE(setup.lesson.empty());
  EXPECT_TRUE(setup.tab.empty());

  setup = dpo::app::read_setup_file(write("some.dposetup", R"({"format": "dpo-studio-setup", "version": 1,
      "lesson": 2, "run": {"data": "data/p.jsonl", "trainer": {"beta": 0.3}, "lora": {"r": 4}}})"));
  dpo::app::RunOptions expected;
  expected.data_path = (dir_ / "data" / "p.jsonl").string();
  expected.trainer.loss.beta = 0.3;
  expected.lora.r = 4;
  EXPECT_EQ(json(setup.run), json(expected));
  EXPECT_EQ(setup.run.device, "auto");
  EXPECT_EQ(setup.lesson, "2");
}

TEST_F(SetupFileTest, EachBadKeyIsOneLineNamingFileKeyAndExpectation) {
  const std::string head = R"({"format": "dpo-studio-setup", "version": 1, )";
  struct Case {
    std::string text, message;
  };
  const std::vector<Case> cases = {
      {"[1, 2]", "expected a JSON object, got a list"},
      {"{\"version\": 1}", "format: expected \"dpo-studio-setup\" (is this a setup file?), got null"},
      {"{\"format\": \"dpo-run\", \"version\": 1}",
       "format: expected \"dpo-studio-setup\" (is this a setup file?), got \"dpo-run\""},
      {"{\"format\": \"dpo-studio-setup\"}", "version: expected 1, got null"},
      {"{\"format\": \"dpo-studio-setup\", \"version\": \"1\"}",
       "version: expected a whole number, got \"1\""},
      {"{\"format\": \"dpo-studio-setup\", \"version\": 2}",
       "version 2 is newer than this program reads (1); update DPO Studio"},
      {head + R"("lessons": 2})", "lessons: unknown key (did you mean \"lesson\"?)"},
      {head + R"("colour": 2})", "colour: unknown key (expected one of format, version, run, lesson, tab)"},
      {head + R"("run": 3})", "run: expected an object, got 3"},
      {head + R"("run": {"trainer": {"bta": 0.3}}})",
       "run.trainer.bta: unknown key (did you mean \"beta\"?)"},
      {head + R"("run": {"trainer": {"beta": -1}}})", "run.trainer.beta: expected a number > 0, got -1"},
      {head + R"("run": {"trainer": {"beta": "0.1"}}})", "run.trainer.beta: expected a number, got \"0.1\""},
      {head + R"("run": {"trainer": {"max_steps": 2.5}}})",
       "run.trainer.max_steps: expected a whole number, got 2.5"},
      {head + R"("run": {"trainer": {"max_steps": 0}}})",
       "run.trainer.max_steps: expected a whole number >= 1, got 0"},
      {head + R"("run": {"trainer": {"seed": -1}}})",
       "run.trainer.seed: expected a whole number >= 0, got -1"},
      {head + R"("run": {"trainer": {"bf16": 1}}})", "run.trainer.bf16: expected true or false, got 1"},
      {head + R"("run": {"trainer": {"loss_type": "sigmod"}}})",
       "run.trainer.loss_type: expected one of sigmoid, "},
      {head + R"("run": {"trainer": {"lr_scheduler_type": "step"}}})",
       "run.trainer.lr_scheduler_type: expected one of constant, linear, cosine, got \"step\""},
      {head + R"("run": {"trainer": {"loss_terms": [{"loss_type": "ipo", "weight": "2"}]}}})",
       "run.trainer.loss_terms.weight: expected a number, got \"2\""},
      {head + R"("run": {"trainer": {"loss_terms": [{"loss": "ipo"}]}}})",
       "run.trainer.loss_terms.loss: unknown key (expected one of loss_type, weight)"},
      {head + R"("run": {"device": "gpu"}})", "run.device: expected auto, cpu, cuda or cuda:N, got \"gpu\""},
      {head + R"("run": {"eval_fraction": 0.95}})",
       "run.eval_fraction: expected a number from 0 to 0.9, got 0.95"},
      {head + R"("run": {"lora": []}})", "run.lora: expected an object, got []"},
      {head + R"("run": {"lora": {"lora_dropout": 1}}})",
       "run.lora.lora_dropout: expected a number from 0 to below 1, got 1"},
      {head + R"("run": {"trainer": {"ref_model_mixup_alpha": 1.5}}})",
       "run.trainer.ref_model_mixup_alpha: expected a number from 0 to 1, got 1.5"},
      {head + R"("run": {"lora": {"target_modules": []}}})",
       "run.lora.target_modules: expected a list of module names, got []"},
      {head + R"("run": {"data": null}})", "run.data: expected a string, got null"},
      {head + R"("tab": "graphs"})",
       "tab: expected one of training, inspector, compare, optimiser, dataset, beta, sweep, rank, "
       "playground, got "
       "\"graphs\""},
      {head + R"("lesson": ""})", "lesson: expected a lesson's name or number, got \"\""},
      {"{\"format\": ", "not valid JSON"},
      {std::string(40, '[') + std::string(40, ']'), "JSON nested deeper than 16 levels"},
  };
  const std::string file = (dir_ / "bad.dposetup").string();
  for (const auto& c : cases) {
    const auto message = error_for(c.text);
    EXPECT_EQ(message.rfind(file + ": ", 0), 0u) << c.text << "\n" << message;
    EXPECT_NE(message.find(c.message), std::string::npos) << c.text << "\n" << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST_F(SetupFileTest, OversizedFileIsRefusedBeforeReading) {
  const auto file = write("big.dposetup", std::string(dpo::app::kMaxSetupFileBytes + 1, ' '));
  try {
    dpo::app::read_setup_file(file);
    FAIL() << "read a file over the limit";
  } catch (const dpo::ConfigError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(file.string(), 0), 0u) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

}  // namespace
