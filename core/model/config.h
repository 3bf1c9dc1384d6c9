#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>

namespace dpo {

// The Llama-family hyper-parameters, named as in Hugging Face's config.json.
struct LlamaConfig {
  int64_t vocab_size = 512;
  int64_t hidden_size = 64;
  int64_t intermediate_size = 176;
  int64_t num_hidden_layers = 2;
  int64_t num_attention_heads = 4;
  int64_t num_key_value_heads = 2;
  int64_t head_dim = 16;  // hidden_size / num_attention_heads unless set
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  int64_t max_position_embeddings = 512;
  bool tie_word_embeddings = true;
  bool attention_bias = false;  // Qwen2 has q/k/v biases
  double initializer_range = 0.02;
  int64_t bos_token_id = 1;
  int64_t eos_token_id = 2;
  int64_t pad_token_id = 0;

  // A few-hundred-thousand-parameter model for the demo and tests.
  static LlamaConfig tiny(int64_t vocab_size);

  // Throws ConfigError naming the first inconsistent field.
  void validate() const;
  int64_t parameter_count() const;
};

void to_json(nlohmann::json& j, const LlamaConfig& c);
void from_json(const nlohmann::json& j, LlamaConfig& c);

}  // namespace dpo
