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
              ") must be a multiple of num_key_value_heads (" + std::to_string(num_key_value_heads) + ")");
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
  j = nlohmann::json{{"architectures", {c.architecture}},
                     {"model_type", c.model_type},
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
                     {"pad_token_id", c.pad_token_id},
                     {"torch_dtype", c.torch_dtype}};
  if (c.sliding_window > 0) j["sliding_window"] = c.sliding_window;
  if (c.extra_eos_token_ids.empty()) {
    j["eos_token_id"] = c.eos_token_id;
  } else {
    auto ids = nlohmann::json::array({c.eos_token_id});
    for (auto id : c.extra_eos_token_ids) ids.push_back(id);
    j["eos_token_id"] = ids;
  }
  if (c.rope_scaling_type == "none") {
    j["rope_scaling"] = nullptr;
  } else if (c.rope_scaling_type == "linear") {
    j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", c.rope_scaling_factor}};
  } else {
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", c.rope_scaling_factor},
                         {"low_freq_factor", c.rope_low_freq_factor},
                         {"high_freq_factor", c.rope_high_freq_factor},
                         {"original_max_position_embeddings", c.rope_original_max_position_embeddings}};
  }
}

namespace {

template <typename T>
T field(const nlohmann::json& j, const char* key, const std::string& label) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) throw ConfigError(label + ": missing \"" + key + "\"");
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw ConfigError(label + ": \"" + key + "\" has the wrong type (" + it->type_name() + ")");
  }
}

template <typename T>
T field_or(const nlohmann::json& j, const char* key, T fallback, const std::string& label) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  return field<T>(j, key, label);
}

// Token ids may be a number, a list (Llama 3 eos) or null.
std::vector<int64_t> token_ids(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (it->is_number_integer()) return {it->get<int64_t>()};
  if (it->is_array()) return it->get<std::vector<int64_t>>();
  return {};
}

}  // namespace

LlamaConfig parse_hf_config(const nlohmann::json& j, const std::string& label) {
  LlamaConfig c;
  if (!j.is_object()) throw ConfigError(label + ": expected a JSON object");
  const auto archs = field_or<std::vector<std::string>>(j, "architectures", {"LlamaForCausalLM"}, label);
  c.architecture = archs.empty() ? "LlamaForCausalLM" : archs.front();
  if (c.architecture != "LlamaForCausalLM" && c.architecture != "MistralForCausalLM" &&
      c.architecture != "Qwen2ForCausalLM")
    throw ConfigError(label + ": unsupported architecture \"" + c.architecture +
                      "\" (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)");
  c.model_type = field_or<std::string>(j, "model_type", "llama", label);
  c.vocab_size = field<int64_t>(j, "vocab_size", label);
  c.hidden_size = field<int64_t>(j, "hidden_size", label);
  c.intermediate_size = field<int64_t>(j, "intermediate_size", label);
  c.num_hidden_layers = field<int64_t>(j, "num_hidden_layers", label);
  c.num_attention_heads = field<int64_t>(j, "num_attention_heads", label);
  c.num_key_value_heads = field_or<int64_t>(j, "num_key_value_heads", c.num_attention_heads, label);
  c.head_dim = field_or<int64_t>(j, "head_dim", c.hidden_size / c.num_attention_heads, label);
  c.rms_norm_eps = field_or<double>(j, "rms_norm_eps", 1e-6, label);
  c.rope_theta = field_or<double>(j, "rope_theta", 10000.0, label);
  c.max_position_embeddings = field_or<int64_t>(j, "max_position_embeddings", 2048, label);
  c.tie_word_embeddings = field_or<bool>(j, "tie_word_embeddings", false, label);
  // Qwen2 has q/k/v biases and no attention_bias key; Llama may set attention_bias.
  c.attention_bias = field_or<bool>(j, "attention_bias", c.architecture == "Qwen2ForCausalLM", label);
  c.initializer_range = field_or<double>(j, "initializer_range", 0.02, label);
  c.torch_dtype = field_or<std::string>(j, "torch_dtype", "float32", label);
  // Qwen2 configs carry a sliding_window that only applies with use_sliding_window.
  if (c.architecture != "Qwen2ForCausalLM" || field_or<bool>(j, "use_sliding_window", false, label))
    c.sliding_window = field_or<int64_t>(j, "sliding_window", 0, label);
  const auto act = field_or<std::string>(j, "hidden_act", "silu", label);
  if (act != "silu") throw ConfigError(label + ": unsupported hidden_act \"" + act + "\" (only silu)");
  auto bos = token_ids(j, "bos_token_id"), eos = token_ids(j, "eos_token_id"),
       pad = token_ids(j, "pad_token_id");
  c.bos_token_id = bos.empty() ? -1 : bos.front();
  c.eos_token_id = eos.empty() ? -1 : eos.front();
  if (eos.size() > 1) c.extra_eos_token_ids.assign(eos.begin() + 1, eos.end());
  c.pad_token_id = pad.empty() ? -1 : pad.front();

  if (auto rs = j.find("rope_scaling"); rs != j.end() && !rs->is_null()) {
    const std::string type = rs->contains("rope_type") ? rs->at("rope_type").get<std::string>()
                                                       : rs->value("type", std::string("none"));
    c.rope_scaling_factor = field_or<double>(*rs, "factor", 1.0, label + " rope_scaling");
    if (type == "linear") {
      c.rope_scaling_type = "linear";
    } else if (type == "llama3") {
      c.rope_scaling_type = "llama3";
      c.rope_low_freq_factor = field<double>(*rs, "low_freq_factor", label + " rope_scaling");
      c.rope_high_freq_factor = field<double>(*rs, "high_freq_factor", label + " rope_scaling");
      c.rope_original_max_position_embeddings =
          field<int64_t>(*rs, "original_max_position_embeddings", label + " rope_scaling");
    } else if (type != "default") {
      throw ConfigError(label + ": unsupported rope_scaling type \"" + type +
                        "\" (supported: linear, llama3)");
    }
  }
  c.validate();
  return c;
}

}  // namespace dpo
