#include "core/model/config.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <sstream>

#include "core/io/json_file.h"
#include "core/runtime/error.h"

namespace dpo {

LlamaConfig LlamaConfig::tiny(int64_t vocab_size) {
  LlamaConfig c;
  c.vocab_size = vocab_size;
  return c;
}

namespace {

// Per-field ceilings, far above any released model and low enough that products stay in 64 bits.
constexpr int64_t kMaxVocab = std::numeric_limits<int32_t>::max();  // token ids are 32-bit
constexpr int64_t kMaxHidden = int64_t{1} << 20;
constexpr int64_t kMaxIntermediate = int64_t{1} << 22;
constexpr int64_t kMaxLayers = int64_t{1} << 12;
constexpr int64_t kMaxHeads = int64_t{1} << 12;
constexpr int64_t kMaxHeadDim = int64_t{1} << 12;
constexpr int64_t kMaxPositions = int64_t{1} << 27;

int64_t checked_mul(int64_t a, int64_t b, bool& overflow) {
  int64_t r = 0;
  overflow = overflow || __builtin_mul_overflow(a, b, &r);
  return r;
}
int64_t checked_add(int64_t a, int64_t b, bool& overflow) {
  int64_t r = 0;
  overflow = overflow || __builtin_add_overflow(a, b, &r);
  return r;
}

std::string number_text(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

void LlamaConfig::validate(const std::string& label) const {
  auto size = [&](const char* key, int64_t value, int64_t max) {
    if (value <= 0)
      throw ConfigError(label + ": " + key + ": expected a positive integer, got " + std::to_string(value));
    if (value > max)
      throw ConfigError(label + ": " + key + ": expected at most " + std::to_string(max) + ", got " +
                        std::to_string(value));
  };
  auto positive = [&](const char* key, double value) {
    if (!std::isfinite(value) || value <= 0)
      throw ConfigError(label + ": " + key + ": expected a finite positive number, got " +
                        number_text(value));
  };
  size("vocab_size", vocab_size, kMaxVocab);
  size("hidden_size", hidden_size, kMaxHidden);
  size("intermediate_size", intermediate_size, kMaxIntermediate);
  size("num_hidden_layers", num_hidden_layers, kMaxLayers);
  size("num_attention_heads", num_attention_heads, kMaxHeads);
  size("num_key_value_heads", num_key_value_heads, kMaxHeads);
  size("head_dim", head_dim, kMaxHeadDim);
  size("max_position_embeddings", max_position_embeddings, kMaxPositions);
  if (hidden_size % num_attention_heads != 0)
    throw ConfigError(label + ": hidden_size: " + std::to_string(hidden_size) +
                      " is not a multiple of num_attention_heads (" + std::to_string(num_attention_heads) +
                      ")");
  if (num_attention_heads % num_key_value_heads != 0)
    throw ConfigError(label + ": num_key_value_heads: num_attention_heads (" +
                      std::to_string(num_attention_heads) + ") must be a multiple of num_key_value_heads (" +
                      std::to_string(num_key_value_heads) + ")");
  if (head_dim % 2 != 0)
    throw ConfigError(label + ": head_dim: expected an even number (rotary pairs), got " +
                      std::to_string(head_dim));
  if (sliding_window < 0 || sliding_window > kMaxPositions)
    throw ConfigError(label + ": sliding_window: expected 0 (off) to " + std::to_string(kMaxPositions) +
                      ", got " + std::to_string(sliding_window));
  positive("rms_norm_eps", rms_norm_eps);
  positive("rope_theta", rope_theta);
  if (rope_scaling_type != "none") positive("rope_scaling.factor", rope_scaling_factor);
  if (rope_scaling_type == "llama3") {
    positive("rope_scaling.low_freq_factor", rope_low_freq_factor);
    positive("rope_scaling.high_freq_factor", rope_high_freq_factor);
    if (rope_high_freq_factor <= rope_low_freq_factor)
      throw ConfigError(label + ": rope_scaling.high_freq_factor: expected more than low_freq_factor (" +
                        number_text(rope_low_freq_factor) + "), got " + number_text(rope_high_freq_factor));
    size("rope_scaling.original_max_position_embeddings", rope_original_max_position_embeddings,
         kMaxPositions);
  }
  if (!std::isfinite(initializer_range) || initializer_range < 0)
    throw ConfigError(label + ": initializer_range: expected a finite non-negative number, got " +
                      number_text(initializer_range));
  const int64_t n = parameter_count();
  if (n > kMaxParameters)
    throw ConfigError(label + ": describes " + std::to_string(n) + " parameters, more than the " +
                      std::to_string(kMaxParameters) + " (2^40) this program handles");
}

int64_t LlamaConfig::parameter_count() const {
  bool overflow = false;
  auto mul = [&](std::initializer_list<int64_t> xs) {
    int64_t r = 1;
    for (int64_t x : xs) r = checked_mul(r, x, overflow);
    return r;
  };
  auto add = [&](std::initializer_list<int64_t> xs) {
    int64_t r = 0;
    for (int64_t x : xs) r = checked_add(r, x, overflow);
    return r;
  };
  const int64_t q = mul({hidden_size, num_attention_heads, head_dim});
  const int64_t kv = mul({2, hidden_size, num_key_value_heads, head_dim});
  const int64_t o = mul({num_attention_heads, head_dim, hidden_size});
  const int64_t bias =
      attention_bias ? mul({add({num_attention_heads, mul({2, num_key_value_heads})}), head_dim}) : 0;
  const int64_t mlp = mul({3, hidden_size, intermediate_size});
  const int64_t norms = mul({2, hidden_size});
  const int64_t layer = add({q, kv, o, bias, mlp, norms});
  const int64_t embed = mul({vocab_size, hidden_size});
  const int64_t total =
      add({embed, mul({num_hidden_layers, layer}), hidden_size, tie_word_embeddings ? 0 : embed});
  if (overflow) throw ConfigError("model config: the parameter count overflows 64 bits");
  return total;
}

std::vector<ExpectedTensor> expected_tensors(const LlamaConfig& c) {
  auto v = [](const char* key, int64_t value) { return std::string(key) + " " + std::to_string(value); };
  const std::string vocab = v("vocab_size", c.vocab_size), hidden = v("hidden_size", c.hidden_size),
                    inter = v("intermediate_size", c.intermediate_size), dim = v("head_dim", c.head_dim);
  const std::string q_out = v("num_attention_heads", c.num_attention_heads) + " * " + dim;
  const std::string kv_out = v("num_key_value_heads", c.num_key_value_heads) + " * " + dim;
  const int64_t q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim;
  std::vector<ExpectedTensor> out;
  out.push_back({"model.embed_tokens.weight", {c.vocab_size, c.hidden_size}, vocab + " x " + hidden});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    out.push_back({p + "self_attn.q_proj.weight", {q, c.hidden_size}, q_out + " x " + hidden});
    if (c.attention_bias) out.push_back({p + "self_attn.q_proj.bias", {q}, q_out});
    out.push_back({p + "self_attn.k_proj.weight", {kv, c.hidden_size}, kv_out + " x " + hidden});
    if (c.attention_bias) out.push_back({p + "self_attn.k_proj.bias", {kv}, kv_out});
    out.push_back({p + "self_attn.v_proj.weight", {kv, c.hidden_size}, kv_out + " x " + hidden});
    if (c.attention_bias) out.push_back({p + "self_attn.v_proj.bias", {kv}, kv_out});
    out.push_back({p + "self_attn.o_proj.weight", {c.hidden_size, q}, hidden + " x " + q_out});
    out.push_back({p + "mlp.gate_proj.weight", {c.intermediate_size, c.hidden_size}, inter + " x " + hidden});
    out.push_back({p + "mlp.up_proj.weight", {c.intermediate_size, c.hidden_size}, inter + " x " + hidden});
    out.push_back({p + "mlp.down_proj.weight", {c.hidden_size, c.intermediate_size}, hidden + " x " + inter});
    out.push_back({p + "input_layernorm.weight", {c.hidden_size}, hidden});
    out.push_back({p + "post_attention_layernorm.weight", {c.hidden_size}, hidden});
  }
  out.push_back({"model.norm.weight", {c.hidden_size}, hidden});
  if (!c.tie_word_embeddings)
    out.push_back({"lm_head.weight", {c.vocab_size, c.hidden_size}, vocab + " x " + hidden});
  return out;
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

using nlohmann::json;

// config.json values, each checked for its JSON type first: "label: key: expected X, got Y".
class Fields {
 public:
  Fields(const json& j, std::string label) : j_(j), label_(std::move(label)) {}

  const json* find(const char* key) const {
    auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }
  [[noreturn]] void wrong(const std::string& key, const char* expected, const json& got) const {
    throw ConfigError(label_ + ": " + key + ": expected " + expected + ", got " + json_type_name(got));
  }
  const json& required(const char* key) const {
    const json* v = find(key);
    if (v == nullptr) throw ConfigError(label_ + ": missing \"" + key + "\"");
    return *v;
  }
  int64_t integer(const char* key) const { return as_integer(key, required(key)); }
  int64_t integer(const char* key, int64_t fallback) const {
    const json* v = find(key);
    return v == nullptr ? fallback : as_integer(key, *v);
  }
  double number(const char* key, double fallback) const {
    const json* v = find(key);
    if (v == nullptr) return fallback;
    if (!v->is_number()) wrong(key, "a number", *v);
    return v->get<double>();
  }
  double number(const char* key) const {
    const json& v = required(key);
    if (!v.is_number()) wrong(key, "a number", v);
    return v.get<double>();
  }
  bool boolean(const char* key, bool fallback) const {
    const json* v = find(key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) wrong(key, "true or false", *v);
    return v->get<bool>();
  }
  std::string string(const char* key, const std::string& fallback) const {
    const json* v = find(key);
    if (v == nullptr) return fallback;
    if (!v->is_string()) wrong(key, "a string", *v);
    return v->get<std::string>();
  }
  std::vector<std::string> strings(const char* key) const {
    const json* v = find(key);
    if (v == nullptr) return {};
    if (!v->is_array()) wrong(key, "a list of strings", *v);
    std::vector<std::string> out;
    for (size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_string()) wrong(std::string(key) + "[" + std::to_string(i) + "]", "a string", (*v)[i]);
      out.push_back((*v)[i].get<std::string>());
    }
    return out;
  }
  // Token ids may be a number, a list (Llama 3 eos) or null.
  std::vector<int64_t> token_ids(const char* key) const {
    const json* v = find(key);
    if (v == nullptr) return {};
    if (v->is_array()) {
      std::vector<int64_t> out;
      for (size_t i = 0; i < v->size(); ++i)
        out.push_back(as_integer(std::string(key) + "[" + std::to_string(i) + "]", (*v)[i]));
      return out;
    }
    if (!v->is_number_integer()) wrong(key, "an integer or a list of integers", *v);
    return {as_integer(key, *v)};
  }

 private:
  int64_t as_integer(const std::string& key, const json& v) const {
    if (!v.is_number_integer()) wrong(key, "an integer", v);
    if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t{std::numeric_limits<int64_t>::max()})
      throw ConfigError(label_ + ": " + key + ": " + std::to_string(v.get<uint64_t>()) +
                        " does not fit in 64 bits");
    return v.get<int64_t>();
  }
  const json& j_;
  std::string label_;
};

LlamaConfig parse_fields(const json& j, const std::string& label) {
  LlamaConfig c;
  const Fields f(j, label);
  const auto archs = f.strings("architectures");
  c.architecture = archs.empty() ? "LlamaForCausalLM" : archs.front();
  if (c.architecture != "LlamaForCausalLM" && c.architecture != "MistralForCausalLM" &&
      c.architecture != "Qwen2ForCausalLM")
    throw ConfigError(label + ": unsupported architecture \"" + c.architecture +
                      "\" (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)");
  c.model_type = f.string("model_type", "llama");
  c.vocab_size = f.integer("vocab_size");
  c.hidden_size = f.integer("hidden_size");
  c.intermediate_size = f.integer("intermediate_size");
  c.num_hidden_layers = f.integer("num_hidden_layers");
  c.num_attention_heads = f.integer("num_attention_heads");
  c.num_key_value_heads = f.integer("num_key_value_heads", c.num_attention_heads);
  // The default divides: only once both are known to be positive.
  if (c.num_attention_heads <= 0)
    throw ConfigError(label + ": num_attention_heads: expected a positive integer, got " +
                      std::to_string(c.num_attention_heads));
  c.head_dim = f.integer("head_dim", c.hidden_size / c.num_attention_heads);
  c.rms_norm_eps = f.number("rms_norm_eps", 1e-6);
  c.rope_theta = f.number("rope_theta", 10000.0);
  c.max_position_embeddings = f.integer("max_position_embeddings", 2048);
  c.tie_word_embeddings = f.boolean("tie_word_embeddings", false);
  // Qwen2 has q/k/v biases and no attention_bias key; Llama may set attention_bias.
  c.attention_bias = f.boolean("attention_bias", c.architecture == "Qwen2ForCausalLM");
  c.initializer_range = f.number("initializer_range", 0.02);
  c.torch_dtype = f.string("torch_dtype", "float32");
  // Qwen2 configs carry a sliding_window that only applies with use_sliding_window.
  if (c.architecture != "Qwen2ForCausalLM" || f.boolean("use_sliding_window", false))
    c.sliding_window = f.integer("sliding_window", 0);
  const auto act = f.string("hidden_act", "silu");
  if (act != "silu") throw ConfigError(label + ": unsupported hidden_act \"" + act + "\" (only silu)");
  auto bos = f.token_ids("bos_token_id"), eos = f.token_ids("eos_token_id"),
       pad = f.token_ids("pad_token_id");
  c.bos_token_id = bos.empty() ? -1 : bos.front();
  c.eos_token_id = eos.empty() ? -1 : eos.front();
  if (eos.size() > 1) c.extra_eos_token_ids.assign(eos.begin() + 1, eos.end());
  c.pad_token_id = pad.empty() ? -1 : pad.front();

  if (const json* rs = f.find("rope_scaling")) {
    if (!rs->is_object()) f.wrong("rope_scaling", "an object or null", *rs);
    const Fields r(*rs, label + ": rope_scaling");
    const std::string type =
        rs->contains("rope_type") ? r.string("rope_type", "none") : r.string("type", "none");
    c.rope_scaling_factor = r.number("factor", 1.0);
    if (type == "linear") {
      c.rope_scaling_type = "linear";
    } else if (type == "llama3") {
      c.rope_scaling_type = "llama3";
      c.rope_low_freq_factor = r.number("low_freq_factor");
      c.rope_high_freq_factor = r.number("high_freq_factor");
      c.rope_original_max_position_embeddings = r.integer("original_max_position_embeddings");
    } else if (type != "default") {
      throw ConfigError(label + ": unsupported rope_scaling type \"" + type +
                        "\" (supported: linear, llama3)");
    }
  }
  return c;
}

}  // namespace

LlamaConfig parse_hf_config(const nlohmann::json& j, const std::string& label) {
  if (!j.is_object()) throw ConfigError(label + ": expected a JSON object");
  LlamaConfig c;
  try {
    c = parse_fields(j, label);
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(label + ": unexpected layout (" + e.what() +
                      ")");  // last resort; every field is typed above
  }
  c.validate(label);
  return c;
}

}  // namespace dpo
