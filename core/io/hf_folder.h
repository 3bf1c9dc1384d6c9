#pragma once
#include <torch/types.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "core/io/safetensors.h"
#include "core/io/state_dict.h"
#include "core/model/llama.h"

namespace dpo {

struct ModelLoadOptions {
  torch::ScalarType dtype = torch::kFloat32;  // compute dtype; F16/BF16 checkpoints are converted
  torch::Device device = torch::kCPU;
};

// A Hugging Face model folder as loaded: config.json + model.safetensors (or shards with
// model.safetensors.index.json).
struct LoadedModel {
  LlamaConfig config;
  nlohmann::json raw_config;  // config.json as found, written back on export
  LlamaForCausalLM model{nullptr};
  LoadReport report;
};

// Throws ModelError / ConfigError naming the file (and tensor) on anything missing or malformed,
// including parameters the checkpoint lacks.
LoadedModel load_hf_model(const std::filesystem::path& dir, const ModelLoadOptions& options = {});

// config.json of a model folder, parsed and validated (ConfigError / ModelError naming the file
// and key); `raw` receives the JSON as found.
LlamaConfig read_hf_config(const std::filesystem::path& dir, nlohmann::json* raw = nullptr);

// Every parameter `config` implies is in `files` with the shape config.json gives it; checked from
// the headers alone, before a model is allocated. Throws ModelError "file: tensor: shape ... does
// not match config.json (...)" or "dir: checkpoint lacks N tensors ...".
void check_checkpoint_shapes(const LlamaConfig& config,
                             const std::vector<std::shared_ptr<SafetensorsFile>>& files,
                             const std::filesystem::path& dir);

// The safetensors files of a folder: the shards listed by the index, or model.safetensors.
std::vector<std::filesystem::path> checkpoint_files(const std::filesystem::path& dir);

struct ExportOptions {
  uint64_t max_shard_bytes = 5'000'000'000;  // as save_pretrained's "5GB"
  std::optional<torch::ScalarType> dtype;    // default: config.json's torch_dtype
  std::filesystem::path tokenizer_from;      // folder whose tokenizer files are copied
  nlohmann::json raw_config;                 // keys kept from the source config.json
  bool overwrite = false;
};

// save_pretrained-style folder: config.json, generation_config.json, model.safetensors (sharded
// above max_shard_bytes, with model.safetensors.index.json), tokenizer files. Built in a sibling
// temporary folder and renamed into place; an existing folder is replaced only with overwrite.
void export_hf_model(LlamaForCausalLM& model, const std::filesystem::path& dir,
                     const ExportOptions& options = {});

torch::ScalarType parse_torch_dtype(const std::string& name, const std::string& context);

}  // namespace dpo
