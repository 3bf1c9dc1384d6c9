#include "core/model/lora.h"

#include <torch/torch.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/io/atomic_file.h"
#include "core/io/json_file.h"
#include "core/io/safetensors.h"
#include "core/runtime/error.h"

namespace dpo {

namespace fs = std::filesystem;

namespace {
constexpr std::string_view kPeftPrefix = "base_model.model.";

// Every projection of the model by its full name ("model.layers.0.self_attn.q_proj").
std::vector<std::pair<std::string, ProjectionImpl*>> projections(LlamaForCausalLM& model) {
  std::vector<std::pair<std::string, ProjectionImpl*>> out;
  for (const auto& m : model->named_modules()) {
    if (auto* p = dynamic_cast<ProjectionImpl*>(m.value().get())) out.emplace_back(m.key(), p);
  }
  return out;
}

std::string leaf(const std::string& name) {
  const auto dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(dot + 1);
}
}  // namespace

bool is_lora_parameter(const std::string& name) {
  return name.find(".lora_A.") != std::string::npos || name.find(".lora_B.") != std::string::npos;
}

int64_t add_lora(LlamaForCausalLM& model, const LoraConfig& config) {
  if (config.r < 1) throw ConfigError("lora: r must be >= 1");
  if (!(config.alpha > 0)) throw ConfigError("lora: alpha must be > 0");
  if (!(config.dropout >= 0 && config.dropout < 1)) throw ConfigError("lora: dropout must be in [0, 1)");
  std::set<std::string> targets(config.target_modules.begin(), config.target_modules.end());
  std::set<std::string> matched;
  for (auto& [name, p] : projections(model)) {
    if (!targets.contains(leaf(name)) || p->has_adapter()) continue;
    p->add_adapter(config.r, config.alpha, config.dropout);
    matched.insert(leaf(name));
  }
  for (const auto& t : targets)
    if (!matched.contains(t))
      throw ConfigError("lora: target module \"" + t +
                        "\" matches no projection (q_proj k_proj v_proj o_proj gate_proj up_proj down_proj)");
  int64_t trainable = 0;
  for (auto& p : model->named_parameters()) {
    const bool lora = is_lora_parameter(p.key());
    p.value().set_requires_grad(lora);
    if (lora) trainable += p.value().numel();
  }
  return trainable;
}

bool has_lora(LlamaForCausalLM& model) {
  for (auto& [name, p] : projections(model))
    if (p->has_adapter()) return true;
  return false;
}

void set_adapters_enabled(LlamaForCausalLM& model, bool on) {
  for (auto& [name, p] : projections(model)) p->set_adapter_enabled(on);
}

std::vector<std::pair<std::string, torch::Tensor>> merged_parameters(LlamaForCausalLM& model) {
  torch::NoGradGuard no_grad;
  std::map<std::string, ProjectionImpl*> adapted;
  for (auto& [name, p] : projections(model))
    if (p->has_adapter()) adapted[name + ".weight"] = p;
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : model->named_parameters()) {
    if (is_lora_parameter(p.key())) continue;
    auto it = adapted.find(p.key());
    out.emplace_back(p.key(), it == adapted.end() ? p.value().detach()
                                                  : (p.value() + it->second->adapter_delta()).detach());
  }
  return out;
}

void to_json(nlohmann::json& j, const LoraConfig& c) {
  j = nlohmann::json{
      {"r", c.r}, {"lora_alpha", c.alpha}, {"lora_dropout", c.dropout}, {"target_modules", c.target_modules}};
}

void from_json(const nlohmann::json& j, LoraConfig& c) {
  c.r = j.value("r", int64_t{0});
  c.alpha = j.value("lora_alpha", 16.0);
  c.dropout = j.value("lora_dropout", 0.0);
  if (j.contains("target_modules")) c.target_modules = j["target_modules"].get<std::vector<std::string>>();
}

void save_lora_adapter(LlamaForCausalLM& model, const LoraConfig& config, const fs::path& dir,
                       const std::string& base_model) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& p : model->named_parameters())
    if (is_lora_parameter(p.key()))
      tensors.emplace_back(std::string(kPeftPrefix) + p.key(), p.value().detach());
  if (tensors.empty()) throw ConfigError("lora: the model has no adapter to save");
  fs::create_directories(dir);
  write_safetensors(dir / "adapter_model.safetensors", tensors);
  nlohmann::json j = config;
  j.update({{"peft_type", "LORA"},
            {"task_type", "CAUSAL_LM"},
            {"bias", "none"},
            {"fan_in_fan_out", false},
            {"inference_mode", true},
            {"init_lora_weights", true},
            {"modules_to_save", nullptr},
            {"use_rslora", false},
            {"base_model_name_or_path", base_model}});
  write_file_atomically(dir / "adapter_config.json", j.dump(2) + "\n");
}

LoraConfig read_lora_config(const fs::path& dir) {
  const auto path = dir / "adapter_config.json";
  if (!fs::exists(path)) throw ModelError(path.string() + ": missing");
  const auto j = parse_json_file<ModelError>(path, uintmax_t{16} << 20);
  const std::string label = path.string();
  if (!j.is_object()) throw ModelError(label + ": expected a JSON object");
  auto wrong = [&](const std::string& key, const char* expected, const nlohmann::json& got) {
    return ModelError(label + ": " + key + ": expected " + expected + ", got " + json_type_name(got));
  };
  if (j.value("peft_type", nlohmann::json()) != "LORA")
    throw ModelError(label + ": peft_type is not \"LORA\"");
  LoraConfig c;
  if (auto it = j.find("r"); it != j.end()) {
    if (!it->is_number_integer()) throw wrong("r", "an integer", *it);
    // The adapter is r x (in + out) per projection: a rank past any real adapter is refused unread.
    if (it->get<int64_t>() < 1 || it->get<int64_t>() > 4096)
      throw ModelError(label + ": r: expected 1 to 4096, got " + it->dump());
    c.r = it->get<int64_t>();
  }
  for (auto [key, field] : {std::pair{"lora_alpha", &c.alpha}, std::pair{"lora_dropout", &c.dropout}}) {
    auto it = j.find(key);
    if (it == j.end()) continue;
    if (!it->is_number()) throw wrong(key, "a number", *it);
    *field = it->get<double>();
  }
  if (auto it = j.find("target_modules"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) throw wrong("target_modules", "a list of strings", *it);
    c.target_modules.clear();
    for (const auto& t : *it) {
      if (!t.is_string()) throw wrong("target_modules[]", "a string", t);
      c.target_modules.push_back(t.get<std::string>());
    }
  }
  return c;
}

void load_lora_adapter(LlamaForCausalLM& model, const fs::path& dir) {
  if (!has_lora(model)) add_lora(model, read_lora_config(dir));
  auto file = SafetensorsFile::open(dir / "adapter_model.safetensors");
  torch::NoGradGuard no_grad;
  for (auto& p : model->named_parameters()) {
    if (!is_lora_parameter(p.key())) continue;
    const auto name = std::string(kPeftPrefix) + p.key();
    if (!file->contains(name)) throw ModelError(file->path() + ": adapter lacks tensor \"" + name + "\"");
    auto t = file->tensor(name);
    if (t.sizes() != p.value().sizes())
      throw ModelError(file->path() + ": tensor \"" + name + "\" has the wrong shape for this model");
    p.value().copy_(t.to(p.value().dtype()));
  }
}

}  // namespace dpo
