#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/model/llama.h"
#include "core/types/run_parts.h"

namespace dpo {

// Adds an adapter to every projection whose name is in target_modules and freezes everything
// else. Returns the number of trainable parameters. ConfigError for r < 1 or a target that matches
// nothing.
int64_t add_lora(LlamaForCausalLM& model, const LoraConfig& config);
bool has_lora(LlamaForCausalLM& model);
void set_adapters_enabled(LlamaForCausalLM& model, bool on);

// The base model as the reference (TRL with a PEFT model): adapters off for the guard's lifetime.
class AdaptersDisabled {
 public:
  explicit AdaptersDisabled(LlamaForCausalLM& model) : model_(model) { set_adapters_enabled(model_, false); }
  ~AdaptersDisabled() { set_adapters_enabled(model_, true); }
  AdaptersDisabled(const AdaptersDisabled&) = delete;
  AdaptersDisabled& operator=(const AdaptersDisabled&) = delete;

 private:
  LlamaForCausalLM& model_;
};

bool is_lora_parameter(const std::string& name);
// Base parameters with every adapter folded in (W + (α/r)·B·A): what merge-and-export writes.
std::vector<std::pair<std::string, torch::Tensor>> merged_parameters(LlamaForCausalLM& model);

// adapter_model.safetensors ("base_model.model.<name>.lora_A.weight", ...) + adapter_config.json, as
// PEFT's save_pretrained writes them; atomically, into `dir`.
void save_lora_adapter(LlamaForCausalLM& model, const LoraConfig& config, const std::filesystem::path& dir,
                       const std::string& base_model = "");
LoraConfig read_lora_config(const std::filesystem::path& dir);
// Adds the adapter described by dir/adapter_config.json (when the model has none) and loads its weights.
void load_lora_adapter(LlamaForCausalLM& model, const std::filesystem::path& dir);

void to_json(nlohmann::json& j, const LoraConfig& c);
void from_json(const nlohmann::json& j, LoraConfig& c);

}  // namespace dpo
