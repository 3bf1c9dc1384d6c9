#include "core/model/config.h"

#include <nlohmann/json.hpp>

#include "core/runtime/error.h"

namespace dpo {

LlamaConfig LlamaConfig::tiny(int64_t vocab_size) {
  LlamaConfig c;
  c.vocab_size = vocab_size;
  return c;
}

void LlamaConfig::validate() const {
  auto require = [](bool ok, const std::string& what) {
    if (!ok) throw ConfigError("model config: " + what);
  };
  require(vocab_size > 0, "vocab_size must be > 0");
  require(hidden_size > 0, "hidden_size must be > 0");
  require(num_attention_heads > 0, "num_attention_heads must be > 0");
  require(num_key_value_heads > 0 && num_attention_heads % num_key_value_heads == 0,
          "num_attention_heads (" + std::to_string(num_attention_heads) +
              ") must be a multiple of num_key_value_heads (" + std::to_string(num_key_value_heads) +
              ")");
  require(head_dim > 0 && head_dim % 2 == 0, "head_dim must be even and > 0 (rotary pairs)");
  require(num_hidden_layers > 0, "num_hidden_layers must be > 0");
  require(intermediate_size > 0, "intermediate_size must be > 0");
}

int64_t LlamaConfig::parameter_count() const {
  const int64_t q = hidden_size * num_attention_heads * head_dim;
  const int64_t kv = 2 * hidden_size * num_key_value_heads * head_dim;
  const int64_t o = num_attention_heads * head_dim * hidden_size;
  const int64_t bias = attention_bias ? (num_attention_heads + 2 * num_key_value_heads) * head_dim : 0;
  const int64_t mlp = 3 * hidden_size * intermediate_size;
  const int64_t norms = 2 * hidden_size;
  const int64_t layer = q + kv + o + bias + mlp + norms;
  const int64_t embed = vocab_size * hidden_size;
  return embed + num_hidden_layers * layer + hidden_size + (tie_word_embeddings ? 0 : embed);
}

void to_json(nlohmann::json& j, const LlamaConfig& c) {
  j = nlohmann::json{{"architectures", {"LlamaForCausalLM"}},
                     {"model_type", "llama"},
                     {"vocab_size", c.vocab_size},
                     {"hidden_size", c.hidden_size},
                     {"intermediate_size", c.intermediate_size},
                     {"num_hidden_layers", c.num_hidden_layers},
                     {"num_attention_heads", c.num_attention_heads},
                     {"num_key_value_heads", c.num_key_value_heads},
                     {"head_dim", c.head_dim},
                     {"rms_norm_eps", c.rms_norm_eps},
                     {"rope_theta", c.rope_theta},
                     {"max_position_embeddings", c.max_position_embeddings},
                     {"tie_word_embeddings", c.tie_word_embeddings},
                     {"attention_bias", c.attention_bias},
                     {"initializer_range", c.initializer_range},
                     {"hidden_act", "silu"},
                     {"bos_token_id", c.bos_token_id},
                     {"eos_token_id", c.eos_token_id},
                     {"pad_token_id", c.pad_token_id},
                     {"torch_dtype", "float32"}};
}

void from_json(const nlohmann::json& j, LlamaConfig& c) {
  c = LlamaConfig{};
  j.at("vocab_size").get_to(c.vocab_size);
  j.at("hidden_size").get_to(c.hidden_size);
  j.at("intermediate_size").get_to(c.intermediate_size);
  j.at("num_hidden_layers").get_to(c.num_hidden_layers);
  j.at("num_attention_heads").get_to(c.num_attention_heads);
  c.num_key_value_heads = j.value("num_key_value_heads", c.num_attention_heads);
  c.head_dim = j.value("head_dim", c.hidden_size / c.num_attention_heads);
  c.rms_norm_eps = j.value("rms_norm_eps", c.rms_norm_eps);
  c.rope_theta = j.value("rope_theta", c.rope_theta);
  c.max_position_embeddings = j.value("max_position_embeddings", c.max_position_embeddings);
  c.tie_word_embeddings = j.value("tie_word_embeddings", c.tie_word_embeddings);
  c.attention_bias = j.value("attention_bias", c.attention_bias);
  c.initializer_range = j.value("initializer_range", c.initializer_range);
  if (j.contains("bos_token_id") && j["bos_token_id"].is_number()) j["bos_token_id"].get_to(c.bos_token_id);
  if (j.contains("eos_token_id") && j["eos_token_id"].is_number()) j["eos_token_id"].get_to(c.eos_token_id);
  if (j.contains("pad_token_id") && j["pad_token_id"].is_number()) j["pad_token_id"].get_to(c.pad_token_id);
}

}  // namespace dpo
