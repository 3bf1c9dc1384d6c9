// A Hugging Face folder with a byte-level BPE tokenizer.json trains on real third-party pairs and
// exports a folder that loads back bit-exact: the path a practitioner's own model takes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

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
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) fs::copy_file(tokenizer_dir / f, dir / "model" / f);

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
