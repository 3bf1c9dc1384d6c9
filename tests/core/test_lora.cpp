#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/data/jsonl_reader.h"
#include "core/data/tokenize.h"
#include "core/io/hf_folder.h"
#include "core/io/safetensors.h"
#include "core/model/lora.h"
#include "core/runtime/error.h"
#include "core/tokenizer/sentencepiece_tokenizer.h"
#include "core/train/checkpoint.h"
#include "core/train/trainer.h"
#include "resources/demo_assets.h"

namespace fs = std::filesystem;

namespace {
dpo::LlamaForCausalLM tiny_model(uint64_t seed = 0) {
  torch::manual_seed(seed);
  dpo::LlamaForCausalLM model(dpo::LlamaConfig::tiny(400));
  dpo::initialise_weights(model);
  return model;
}

torch::Tensor some_ids() { return torch::tensor({{1, 17, 42, 99, 5, 250, 7}}, torch::kLong); }
torch::Tensor ones_mask() { return torch::ones({1, 7}, torch::kLong); }

std::vector<dpo::TokenizedPair> demo_pairs(size_t n) {
  static auto tokenizer =
      dpo::SentencePieceTokenizer::from_bytes(dpo::resources::demo_tokenizer_model(), "demo");
  auto pairs = dpo::parse_preference_jsonl(dpo::resources::demo_preferences_jsonl(), "demo");
  pairs.resize(n);
  return dpo::tokenize_pairs(*tokenizer, pairs, {});
}

std::unique_ptr<dpo::Trainer> lora_trainer(const dpo::LoraConfig& lora, int64_t steps) {
  auto policy = tiny_model();
  dpo::add_lora(policy, lora);
  dpo::TrainerConfig config;
  config.max_steps = steps;
  config.learning_rate = 5e-3;
  config.batch_size = 4;
  return std::make_unique<dpo::Trainer>(policy, demo_pairs(12), 3, config);
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("dpo-lora-test-" + std::to_string(::getpid()));
  TempDir() { fs::remove_all(path); }
  ~TempDir() { fs::remove_all(path); }
};
}  // namespace

// Hand arithmetic: W = I, A = [1 2], B = [3 4]ᵀ, α = 2, r = 1 (scale 2), x = [1 1]:
// y = x·Wᵀ + 2·(x·Aᵀ)·Bᵀ = [1 1] + 2·3·[3 4] = [19 25]; merged W' = I + 2·B·A = [[7 12] [8 17]].
TEST(Lora, ProjectionAddsTheScaledLowRankUpdate) {
  dpo::Projection p(2, 2, false);
  p->add_adapter(/*r=*/1, /*alpha=*/2.0, /*dropout=*/0.0);
  {
    torch::NoGradGuard no_grad;
    p->weight.copy_(torch::eye(2));
    p->lora_A->weight.copy_(torch::tensor({{1.0f, 2.0f}}));
    p->lora_B->weight.copy_(torch::tensor({{3.0f}, {4.0f}}));
  }
  auto y = p(torch::tensor({{1.0f, 1.0f}}));
  EXPECT_TRUE(torch::allclose(y, torch::tensor({{19.0f, 25.0f}})));
  EXPECT_TRUE(torch::allclose(p->weight + p->adapter_delta(), torch::tensor({{7.0f, 12.0f}, {8.0f, 17.0f}})));
  p->set_adapter_enabled(false);
  EXPECT_TRUE(torch::allclose(p(torch::tensor({{1.0f, 1.0f}})), torch::tensor({{1.0f, 1.0f}})));
}

TEST(Lora, FreshAdaptersChangeNothingAndFreezeTheBase) {
  auto model = tiny_model();
  torch::NoGradGuard no_grad;
  auto before = model(some_ids(), ones_mask());
  const auto trainable = dpo::add_lora(model, {.r = 4, .alpha = 8});
  // q, k, v, o of 2 layers: A (4, 64) + B (out, 4) with out 64 for q/o and 32 for k/v (2 kv heads).
  EXPECT_EQ(trainable, 2 * (4 * 64 * 4 + 4 * (64 + 32 + 32 + 64)));
  EXPECT_TRUE(torch::equal(model(some_ids(), ones_mask()), before));
  for (const auto& p : model->named_parameters())
    EXPECT_EQ(p.value().requires_grad(), dpo::is_lora_parameter(p.key())) << p.key();
  EXPECT_THROW(dpo::add_lora(model, {.r = 2, .target_modules = {"qkv"}}), dpo::ConfigError);
}

TEST(Lora, TrainsOnlyAdaptersAgainstTheBaseAsReference) {
  auto trainer = lora_trainer({.r = 4, .alpha = 8}, 6);
  ASSERT_NE(trainer->reference(), nullptr);
  EXPECT_EQ(trainer->reference()->ptr(), trainer->policy().ptr());  // no second copy in memory
  std::map<std::string, torch::Tensor> before;
  for (const auto& p : trainer->policy()->named_parameters()) before[p.key()] = p.value().clone();
  std::vector<double> losses;
  dpo::train(*trainer, [&](const dpo::StepMetrics& m) {
    losses.push_back(m.loss);
    return true;
  });
  EXPECT_NEAR(losses.front(), std::log(2.0), 1e-5);  // adapters start at zero: π = π_ref
  EXPECT_LT(losses.back(), losses.front());
  for (const auto& p : trainer->policy()->named_parameters()) {
    const bool same = torch::equal(p.value(), before[p.key()]);
    if (p.key().ends_with("lora_B.weight")) {
      EXPECT_FALSE(same) << p.key();
    } else if (!dpo::is_lora_parameter(p.key())) {
      EXPECT_TRUE(same) << p.key();
    }
  }
  // With its adapters off the policy is exactly the starting model.
  auto base = tiny_model();
  torch::NoGradGuard no_grad;
  dpo::AdaptersDisabled off(trainer->policy());
  EXPECT_TRUE(torch::equal(trainer->policy()(some_ids(), ones_mask()), base(some_ids(), ones_mask())));
}

// PEFT layout: base_model.model.<module>.lora_A.weight (r, in) / lora_B.weight (out, r), and a
// merge-and-export whose plain model reproduces the adapted model's logits.
TEST(Lora, SavesPeftAdapterAndMergesOnExport) {
  TempDir dir;
  auto trainer = lora_trainer({.r = 4, .alpha = 8, .target_modules = {"q_proj", "v_proj", "down_proj"}}, 3);
  dpo::train(*trainer, nullptr);
  auto& policy = trainer->policy();
  dpo::save_lora_adapter(policy, {.r = 4, .alpha = 8, .target_modules = {"q_proj", "v_proj", "down_proj"}},
                         dir.path / "adapter", "tiny");
  auto file = dpo::SafetensorsFile::open(dir.path / "adapter" / "adapter_model.safetensors");
  EXPECT_EQ(file->entries().size(), 2u * 3u * 2u);  // A and B × 3 targets × 2 layers
  EXPECT_EQ(file->entry("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight").shape,
            (std::vector<int64_t>{4, 64}));
  EXPECT_EQ(file->entry("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight").shape,
            (std::vector<int64_t>{64, 4}));
  std::ifstream in(dir.path / "adapter" / "adapter_config.json");
  auto config = nlohmann::json::parse(in);
  EXPECT_EQ(config["peft_type"], "LORA");
  EXPECT_EQ(config["r"], 4);
  EXPECT_EQ(config["lora_alpha"], 8.0);

  dpo::export_hf_model(policy, dir.path / "merged");
  auto merged = dpo::load_hf_model(dir.path / "merged");
  auto merged_file = dpo::SafetensorsFile::open(dir.path / "merged" / "model.safetensors");
  for (const auto& e : merged_file->entries()) EXPECT_FALSE(dpo::is_lora_parameter(e.name)) << e.name;
  torch::NoGradGuard no_grad;
  policy->eval();
  auto adapted = policy(some_ids(), ones_mask());
  EXPECT_LT((merged.model(some_ids(), ones_mask()) - adapted).abs().max().item<double>(), 1e-4);

  // The adapter loads back onto a fresh base and gives the same logits.
  auto reloaded = tiny_model();
  dpo::load_lora_adapter(reloaded, dir.path / "adapter");
  EXPECT_TRUE(torch::allclose(reloaded(some_ids(), ones_mask()), adapted, 1e-6, 1e-6));
}

TEST(Lora, ResumeWithDropoutIsBitExact) {
  TempDir dir;
  const dpo::LoraConfig lora{.r = 4, .alpha = 8, .dropout = 0.1};
  torch::manual_seed(123);
  auto straight = lora_trainer(lora, 6);
  torch::manual_seed(7);
  dpo::train(*straight, nullptr);

  auto first = lora_trainer(lora, 6);
  torch::manual_seed(7);
  for (int i = 0; i < 3; ++i) first->step();
  const auto saved = dpo::write_checkpoint(dir.path, *first, {.lora = lora});
  torch::manual_seed(999);  // whatever the generator did meanwhile, the checkpoint restores it
  auto resumed = lora_trainer(lora, 6);
  dpo::restore_checkpoint(saved, *resumed);
  dpo::train(*resumed, nullptr);
  auto a = straight->policy()->named_parameters();
  for (const auto& p : resumed->policy()->named_parameters())
    EXPECT_TRUE(torch::equal(p.value(), a[p.key()])) << p.key();
}
