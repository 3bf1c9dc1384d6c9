#pragma once
// Tiny Hugging Face checkpoints built inside the tests, with weights from a formula (no RNG) so
// that golden numbers committed in tests/reference stay valid.
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/io/safetensors.h"
#include "core/model/llama.h"

namespace {

inline nlohmann::json llama3_config() {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"vocab_size", 32},
          {"hidden_size", 32},
          {"intermediate_size", 48},
          {"num_hidden_layers", 2},
          {"num_attention_heads", 4},
          {"num_key_value_heads", 2},
          {"rms_norm_eps", 1e-5},
          {"rope_theta", 500000.0},
          {"tie_word_embeddings", false},
          {"max_position_embeddings", 256},
          {"bos_token_id", 1},
          {"eos_token_id", {2, 3}},
          {"torch_dtype", "float32"},
          {"rope_scaling",
           {{"rope_type", "llama3"},
            {"factor", 8.0},
            {"low_freq_factor", 1.0},
            {"high_freq_factor", 4.0},
            {"original_max_position_embeddings", 64}}}};
}

inline nlohmann::json qwen2_config() {
  return {{"architectures", {"Qwen2ForCausalLM"}},
          {"model_type", "qwen2"},
          {"vocab_size", 32},
          {"hidden_size", 32},
          {"intermediate_size", 40},
          {"num_hidden_layers", 2},
          {"num_attention_heads", 4},
          {"num_key_value_heads", 1},
          {"rms_norm_eps", 1e-6},
          {"rope_theta", 1000000.0},
          {"tie_word_embeddings", true},
          {"max_position_embeddings", 256},
          {"bos_token_id", nullptr},
          {"eos_token_id", 2},
          {"torch_dtype", "bfloat16"}};
}

// Deterministic weights from a formula (no RNG), so committed golden logits stay valid:
// tensor k in name order, element i: 0.05·sin(0.37·i + 1.3·k); norms 1 + 0.1·sin(...).
inline void write_checkpoint(const std::filesystem::path& dir, const nlohmann::json& config,
                             torch::ScalarType dtype) {
  std::ofstream(dir / "config.json") << config.dump(2);
  dpo::LlamaForCausalLM shapes(dpo::parse_hf_config(config, "test"));
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  std::vector<std::string> names;
  for (const auto& p : shapes->named_parameters()) names.push_back(p.key());
  std::sort(names.begin(), names.end());
  auto params = shapes->named_parameters();
  for (size_t k = 0; k < names.size(); ++k) {
    auto i = torch::arange(params[names[k]].numel(), torch::kFloat64);
    auto w = torch::sin(0.37 * i + 1.3 * double(k));
    w = names[k].ends_with("norm.weight") ? 1.0 + 0.1 * w : 0.05 * w;
    tensors.emplace_back(names[k], w.view(params[names[k]].sizes()).to(dtype));
  }
  dpo::write_safetensors(dir / "model.safetensors", tensors);
}

}  // namespace
