#pragma once
// The demo policy, pairs and trainer the training and checkpoint tests share.
#include <torch/torch.h>

#include <unistd.h>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/data/jsonl_reader.h"
#include "core/data/tokenize.h"
#include "core/tokenizer/sentencepiece_tokenizer.h"
#include "core/train/trainer.h"
#include "resources/demo_assets.h"

namespace dpo_test {

namespace fs = std::filesystem;

constexpr int64_t kPad = 3;

inline std::vector<dpo::TokenizedPair> demo_pairs(size_t count) {
  static auto tokenizer =
      dpo::SentencePieceTokenizer::from_bytes(dpo::resources::demo_tokenizer_model(), "demo");
  auto pairs = dpo::parse_preference_jsonl(dpo::resources::demo_preferences_jsonl(), "demo");
  pairs.resize(count);
  return dpo::tokenize_pairs(*tokenizer, pairs, {});
}

inline dpo::LlamaForCausalLM demo_policy(uint64_t seed = 0) {
  torch::manual_seed(seed);
  dpo::LlamaForCausalLM policy(dpo::LlamaConfig::tiny(400));
  dpo::initialise_weights(policy);
  return policy;
}

inline dpo::TrainerConfig demo_config(int64_t steps) {
  dpo::TrainerConfig config;
  config.loss.beta = 0.1;
  config.learning_rate = 1e-3;
  config.batch_size = 8;
  config.max_steps = steps;
  return config;
}

inline std::unique_ptr<dpo::Trainer> demo_trainer(const dpo::TrainerConfig& config, size_t pair_count,
                                                  size_t eval_count = 0, fs::path cache = {}) {
  auto all = demo_pairs(pair_count + eval_count);
  dpo::TrainerInputs in;
  in.policy = demo_policy();
  in.train_pairs.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(pair_count));
  in.eval_pairs.assign(all.begin() + static_cast<std::ptrdiff_t>(pair_count), all.end());
  in.pad_id = kPad;
  in.eos_id = 2;
  in.reference_cache_dir = std::move(cache);
  return std::make_unique<dpo::Trainer>(std::move(in), config);
}

inline std::vector<torch::Tensor> grads_of(dpo::LlamaForCausalLM& model) {
  std::vector<torch::Tensor> out;
  for (const auto& p : model->parameters())
    out.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
  return out;
}

inline double max_abs_diff(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, (a[i] - b[i]).abs().max().item<double>());
  return worst;
}

inline double max_abs(const std::vector<torch::Tensor>& a) {
  double worst = 0;
  for (const auto& t : a) worst = std::max(worst, t.abs().max().item<double>());
  return worst;
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("dpo-training-test-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(reinterpret_cast<uintptr_t>(this)));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

}  // namespace dpo_test
