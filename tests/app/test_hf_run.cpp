// A Hugging Face folder with a byte-level BPE tokenizer.json trains on real third-party pairs and
// exports a folder that loads back bit-exact: the path a practitioner's own model takes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "app/session/run_setup.h"
#include "core/io/hf_folder.h"
#include "tests/core/shared_data.h"
#include "tests/core/tiny_checkpoint.h"

namespace fs = std::filesystem;

TEST(HfRun, BytelevelBpeModelTrainsOnTrlPairsAndExports) {
  const auto tokenizer_dir = fs::path(shared_data("tokenizers/phi2_gpt2_bpe"));
  const auto data = shared_data("preference/trl_zen/standard_preference.jsonl");
  DPO_REQUIRE_SHARED_FILE(tokenizer_dir / "tokenizer.json");
  DPO_REQUIRE_SHARED_FILE(data);

  const auto dir = fs::temp_directory_path() / ("dpo_hf_run_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "model");
  auto config = llama3_config();
  config["vocab_size"] = 50295;  // GPT-2's 50257 + Phi-2's 38 whitespace tokens
  config["bos_token_id"] = 50256;
  config["eos_token_id"] = 50256;
  write_checkpoint(dir / "model", config, torch::kFloat32);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    fs::copy_file(tokenizer_dir / f, dir / "model" / f);

  dpo::app::RunOptions options;
  options.model_dir = (dir / "model").string();
  options.data_path = data;
  options.trainer.max_steps = 3;
  options.trainer.batch_size = 4;
  options.trainer.learning_rate = 1e-3;
  options.eval_fraction = 0;
  options.cache_dir = (dir / "cache").string();
  auto setup = dpo::app::prepare_run(options);
  EXPECT_EQ(setup.train_pairs, 19u);
  EXPECT_EQ(setup.eval_pairs, 0u);
  EXPECT_EQ(setup.tokenizer->vocab_size(), 50295);

  std::vector<dpo::StepMetrics> steps;
  dpo::train(*setup.trainer, [&](const dpo::StepMetrics& m) {
    steps.push_back(m);
    return true;
  });
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_NEAR(steps[0].loss, std::log(2.0), 1e-5);  // policy == reference before the first update
  EXPECT_TRUE(std::isfinite(steps[2].loss));
  EXPECT_NE(steps[2].rewards_margins, 0.0);  // the policy moved
  // " ugly." style completions are a few tokens plus EOS.
  EXPECT_GT(steps[0].length_chosen, 1.0);
  EXPECT_LT(steps[0].length_chosen, 20.0);

  dpo::app::save_policy(setup, options, (dir / "out").string());
  EXPECT_TRUE(fs::exists(dir / "out" / "tokenizer.json"));
  auto reloaded = dpo::load_hf_model(dir / "out");
  auto trained = setup.trainer->policy()->named_parameters();
  for (const auto& p : reloaded.model->named_parameters())
    EXPECT_TRUE(torch::equal(p.value(), trained[p.key()])) << p.key();
  EXPECT_EQ(reloaded.raw_config["vocab_size"], 50295);
  fs::remove_all(dir);
}

namespace {
// A random Llama-3-style folder with Phi-2's byte-level BPE tokenizer, as a user's model would be.
fs::path make_bpe_model(const fs::path& dir) {
  fs::remove_all(dir);
  fs::create_directories(dir / "model");
  auto config = llama3_config();
  config["vocab_size"] = 50295;
  config["bos_token_id"] = 50256;
  config["eos_token_id"] = 50256;
  write_checkpoint(dir / "model", config, torch::kFloat32);
  const auto tokenizer_dir = fs::path(shared_data("tokenizers/phi2_gpt2_bpe"));
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    fs::copy_file(tokenizer_dir / f, dir / "model" / f);
  return dir / "model";
}
}  // namespace

// Every loss of the table trains through the same session path as `dpo train`, on a Llama-format
// folder and TRL's pairs: finite losses, and π = π_ref at step 1 gives each loss its known start.
TEST(HfRun, EveryLossTrainsOnARealFormatCheckpoint) {
  DPO_REQUIRE_SHARED_FILE(fs::path(shared_data("tokenizers/phi2_gpt2_bpe")) / "tokenizer.json");
  const auto pairs = shared_data("preference/trl_zen/standard_preference.jsonl");
  const auto unpaired = shared_data("preference/trl_zen/standard_unpaired_preference.jsonl");
  DPO_REQUIRE_SHARED_FILE(pairs);
  const auto dir = fs::temp_directory_path() / ("dpo_hf_losses_" + std::to_string(getpid()));
  const auto model = make_bpe_model(dir);
  // The margin loss needs scores: the same pairs with score_chosen − score_rejected = 2.
  const auto scored = dir / "scored.jsonl";
  {
    std::ifstream in(pairs);
    std::ofstream out(scored);
    for (std::string line; std::getline(in, line);) {
      auto row = nlohmann::json::parse(line);
      row["score_chosen"] = 7.0;
      row["score_rejected"] = 5.0;
      out << row.dump() << "\n";
    }
  }
  for (const auto& info : dpo::loss_table()) {
    dpo::app::RunOptions options;
    options.model_dir = model.string();
    options.data_path = info.type == dpo::LossType::Kto      ? unpaired
                        : info.type == dpo::LossType::Margin ? scored.string()
                                                             : pairs;
    options.no_cache = true;
    options.eval_fraction = 0;
    options.trainer.loss.type = info.type;
    options.trainer.loss.beta = info.default_beta;
    options.trainer.max_steps = 2;
    options.trainer.batch_size = 4;
    auto setup = dpo::app::prepare_run(options);
    std::vector<dpo::StepMetrics> steps;
    dpo::train(*setup.trainer, [&](const dpo::StepMetrics& m) {
      steps.push_back(m);
      return true;
    });
    ASSERT_EQ(steps.size(), 2u) << info.name;
    for (const auto& m : steps) {
      EXPECT_TRUE(std::isfinite(m.loss) && !m.skipped) << info.name << " step " << m.step;
      EXPECT_TRUE(std::isfinite(m.grad_norm)) << info.name;
    }
    // Reference-based pairwise losses see h = 0 at step 1: sigmoid's −log σ(0) = ln 2; margin's
    // −log σ(0 − γ·2) = log(1 + e²); KTO's 1 − σ(0) = 0.5; hinge's max(0, 1 − 0) = 1.
    const std::map<dpo::LossType, double> start{{dpo::LossType::Sigmoid, std::log(2.0)},
                                                {dpo::LossType::Margin, std::log1p(std::exp(2.0))},
                                                {dpo::LossType::Kto, 0.5},
                                                {dpo::LossType::Hinge, 1.0}};
    if (auto it = start.find(info.type); it != start.end()) {
      EXPECT_NEAR(steps[0].loss, it->second, 1e-5) << info.name;
    }
  }
  fs::remove_all(dir);
}

// Every shared third-party file (TRL's six layouts, LLaMA-Factory's sharegpt DPO and KTO sets) goes
// through prepare_run into one training step: message lists use the tokenizer's template or ChatML.
TEST(HfRun, EverySharedDatasetTrainsOneStep) {
  DPO_REQUIRE_SHARED_FILE(fs::path(shared_data("tokenizers/phi2_gpt2_bpe")) / "tokenizer.json");
  const auto dir = fs::temp_directory_path() / ("dpo_hf_files_" + std::to_string(getpid()));
  const auto model = make_bpe_model(dir);
  struct Case {
    const char* file;
    size_t examples;  // pairs, or unpaired examples for KTO files
    bool kto;
  };
  for (const auto& c : {Case{"trl_zen/standard_preference.jsonl", 19, false},
                        Case{"trl_zen/standard_implicit_prompt_preference.jsonl", 19, false},
                        Case{"trl_zen/conversational_preference.jsonl", 19, false},
                        Case{"trl_zen/conversational_implicit_prompt_preference.jsonl", 19, false},
                        Case{"trl_zen/standard_unpaired_preference.jsonl", 19, true},
                        Case{"trl_zen/conversational_unpaired_preference.jsonl", 19, true},
                        Case{"llamafactory/dpo_en_demo.json", 300, false},
                        Case{"llamafactory/kto_en_demo.json", 300, true}}) {
    const auto data = shared_data(std::string("preference/") + c.file);
    DPO_REQUIRE_SHARED_FILE(data);
    dpo::app::RunOptions options;
    options.model_dir = model.string();
    options.data_path = data;
    options.no_cache = true;
    options.eval_fraction = 0;
    options.tokenize.max_length = 96;
    options.tokenize.max_prompt_length = 64;
    options.trainer.precompute_reference = false;  // one step: no pass over all 300 pairs
    options.trainer.max_steps = 1;
    options.trainer.batch_size = 2;
    if (c.kto) options.trainer.loss.type = dpo::LossType::Kto;
    auto setup = dpo::app::prepare_run(options);
    EXPECT_EQ(setup.train_pairs, c.examples) << c.file;
    auto m = setup.trainer->step();
    EXPECT_TRUE(std::isfinite(m.loss)) << c.file;
    EXPECT_NEAR(m.loss, c.kto ? 0.5 : std::log(2.0), 1e-5) << c.file;
  }
  fs::remove_all(dir);
}
