#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

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
  // rope_scaling: "none", "linear" (positions / factor) or "llama3" (frequency-band interpolation).
  std::string rope_scaling_type = "none";
  double rope_scaling_factor = 1.0;
  double rope_low_freq_factor = 1.0;
  double rope_high_freq_factor = 4.0;
  int64_t rope_original_max_position_embeddings = 8192;
  bool tie_word_embeddings = true;
  bool attention_bias = false;  // Qwen2 has q/k/v biases
  int64_t sliding_window = 0;   // Mistral v0.1: keys further back than this are hidden; 0 = off
  double initializer_range = 0.02;
  int64_t bos_token_id = 1;
  int64_t eos_token_id = 2;
  int64_t pad_token_id = 0;
  std::vector<int64_t> extra_eos_token_ids;  // Llama 3 lists several end tokens
  std::string architecture = "LlamaForCausalLM";
  std::string model_type = "llama";
  std::string torch_dtype = "float32";

  // A few-hundred-thousand-parameter model for the demo and tests.
  static LlamaConfig tiny(int64_t vocab_size);

  // Throws ConfigError "label: field: ..." naming the first field out of range or inconsistent,
  // checked before anything is sized from it: every size positive and bounded, the head counts
  // divisible, the parameter count (checked 64-bit arithmetic) at most kMaxParameters.
  void validate(const std::string& label = "model config") const;
  // Throws ConfigError when the count does not fit in 64 bits (validate() bounds it first).
  int64_t parameter_count() const;
};

inline constexpr int64_t kMaxParameters = int64_t{1} << 40;

// A parameter of LlamaForCausalLM as config.json sizes it; `because` says which fields made the
// shape, for "does not match config.json (vocab_size 32000 x hidden_size 64)".
struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::string because;
};
// Every parameter the model built from `c` has (as named_parameters() names them), without
// building it: checkpoints are checked against this before anything is allocated.
std::vector<ExpectedTensor> expected_tensors(const LlamaConfig& c);

void to_json(nlohmann::json& j, const LlamaConfig& c);
// Reads a Hugging Face config.json. Throws ConfigError naming an unsupported `architectures` or
// `rope_scaling` value instead of building a silently different model.
LlamaConfig parse_hf_config(const nlohmann::json& j, const std::string& label);

}  // namespace dpo
