#include "core/io/hf_folder.h"

#include <unistd.h>

#include <torch/torch.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "core/io/atomic_file.h"
#include "core/io/json_file.h"
#include "core/io/safetensors.h"
#include "core/model/lora.h"
#include "core/runtime/error.h"

namespace dpo {

namespace fs = std::filesystem;

namespace {

// config.json is a few KB and an index a few MB; anything far larger is not one.
constexpr uintmax_t kMaxConfigBytes = uintmax_t{16} << 20;

nlohmann::json read_json(const fs::path& path, uintmax_t max_bytes = kMaxJsonFileBytes) {
  if (!fs::exists(path)) throw ModelError(path.string() + ": cannot open (no such file)");
  return parse_json_file<ModelError>(path, max_bytes);
}

// A shard named by the index must be a .safetensors file inside the model folder, also after
// symlinks are resolved.
fs::path confined_shard(const fs::path& dir, const fs::path& index, const std::string& name) {
  const fs::path rel(name);
  auto outside = [&] {
    return ModelError(index.string() + ": shard \"" + name + "\" is outside the model folder");
  };
  if (name.empty() || rel.is_absolute() || rel.has_root_name() || rel.has_root_directory()) throw outside();
  for (const auto& part : rel)
    if (part == "..") throw outside();
  if (rel.extension() != ".safetensors")
    throw ModelError(index.string() + ": shard \"" + name + "\" is not a .safetensors file");
  std::error_code ec;
  const fs::path base = fs::weakly_canonical(dir, ec);
  const fs::path resolved = fs::weakly_canonical(dir / rel, ec);
  if (ec) throw outside();
  auto [end, _] = std::mismatch(base.begin(), base.end(), resolved.begin(), resolved.end());
  if (end != base.end()) throw outside();
  return dir / rel;
}

std::string join(const std::vector<std::string>& names, size_t limit = 5) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < limit; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > limit) out += " and " + std::to_string(names.size() - limit) + " more";
  return out;
}

const char* kTokenizerFiles[] = {"tokenizer.json",          "tokenizer.model",   "tokenizer_config.json",
                                 "special_tokens_map.json", "added_tokens.json", "chat_template.jinja"};

}  // namespace

torch::ScalarType parse_torch_dtype(const std::string& name, const std::string& context) {
  if (name == "float32" || name == "float") return torch::kFloat32;
  if (name == "bfloat16") return torch::kBFloat16;
  if (name == "float16" || name == "half") return torch::kFloat16;
  throw ConfigError(context + ": unsupported torch_dtype \"" + name + "\" (float32, bfloat16, float16)");
}

std::vector<fs::path> checkpoint_files(const fs::path& dir) {
  const auto index = dir / "model.safetensors.index.json";
  if (fs::exists(index)) {
    auto j = read_json(index);
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
      throw ModelError(index.string() + ": missing \"weight_map\" object");
    std::set<std::string> shards;
    for (const auto& [name, file] : j["weight_map"].items()) {
      if (!file.is_string())
        throw ModelError(index.string() + ": weight_map[\"" + name + "\"]: expected a file name, got " +
                         json_type_name(file));
      shards.insert(file.get<std::string>());
    }
    std::vector<fs::path> out;
    for (const auto& s : shards) {
      const auto path = confined_shard(dir, index, s);
      if (!fs::exists(path)) throw ModelError(index.string() + ": lists shard " + s + ", which is missing");
      out.push_back(path);
    }
    return out;
  }
  if (fs::exists(dir / "model.safetensors")) return {dir / "model.safetensors"};
  if (fs::exists(dir / "pytorch_model.bin"))
    throw ModelError(dir.string() + ": only pytorch_model.bin found; convert it to safetensors first");
  throw ModelError(dir.string() + ": no model.safetensors or model.safetensors.index.json");
}

LlamaConfig read_hf_config(const fs::path& dir, nlohmann::json* raw) {
  const auto config_path = dir / "config.json";
  auto j = read_json(config_path, kMaxConfigBytes);
  auto config = parse_hf_config(j, config_path.string());
  if (raw != nullptr) *raw = std::move(j);
  return config;
}

void check_checkpoint_shapes(const LlamaConfig& config,
                             const std::vector<std::shared_ptr<SafetensorsFile>>& files,
                             const fs::path& dir) {
  std::map<std::string, std::pair<const SafetensorsFile*, const SafetensorsEntry*>> stored;
  for (const auto& f : files)
    for (const auto& e : f->entries()) stored.emplace(e.name, std::pair{f.get(), &e});
  std::vector<std::string> missing;
  for (const auto& expected : expected_tensors(config)) {
    auto it = stored.find(expected.name);
    if (it == stored.end()) {
      missing.push_back(expected.name);
      continue;
    }
    const auto& [file, entry] = it->second;
    if (entry->shape != expected.shape)
      throw ModelError(file->path() + ": " + expected.name + ": shape " + shape_text(entry->shape) +
                       " does not match config.json (" + expected.because + ")");
  }
  if (!missing.empty())
    throw ModelError(dir.string() + ": checkpoint lacks " + std::to_string(missing.size()) +
                     " tensors the config needs: " + join(missing));
}

LoadedModel load_hf_model(const fs::path& dir, const ModelLoadOptions& options) {
  if (!fs::is_directory(dir)) throw ModelError(dir.string() + ": not a model folder");
  LoadedModel loaded;
  loaded.config = read_hf_config(dir, &loaded.raw_config);

  std::vector<std::shared_ptr<SafetensorsFile>> files;
  for (const auto& f : checkpoint_files(dir)) files.push_back(SafetensorsFile::open(f));
  auto state = StateDict::from_files(files);
  // Before the model is built: its size comes from config.json, which must match the checkpoint.
  check_checkpoint_shapes(loaded.config, files, dir);

  loaded.model = LlamaForCausalLM(loaded.config);
  loaded.report = load_parameters(*loaded.model, state, options.dtype, options.device);
  if (!loaded.report.missing.empty())
    throw ModelError(dir.string() + ": checkpoint lacks " + std::to_string(loaded.report.missing.size()) +
                     " tensors the config needs: " + join(loaded.report.missing));
  loaded.model->to(options.device);  // buffers (rotary frequencies) follow the parameters
  return loaded;
}

void export_hf_model(LlamaForCausalLM& model, const fs::path& dir, const ExportOptions& options) {
  const auto& config = model->config();
  const auto dtype = options.dtype.value_or(parse_torch_dtype(config.torch_dtype, "config"));
  if (fs::exists(dir) && !fs::is_empty(dir) && !options.overwrite)
    throw ModelError(dir.string() + ": exists and is not empty (choose another folder or allow overwrite)");
  const fs::path parent = dir.has_parent_path() ? dir.parent_path() : fs::path(".");
  fs::create_directories(parent);
  const fs::path staging = parent / (dir.filename().string() + ".partial-" + std::to_string(::getpid()));
  fs::remove_all(staging);
  fs::create_directories(staging);

  nlohmann::json cfg = options.raw_config.is_object() ? options.raw_config : nlohmann::json::object();
  nlohmann::json ours = config;
  ours["torch_dtype"] = dtype == torch::kBFloat16  ? "bfloat16"
                        : dtype == torch::kFloat16 ? "float16"
                                                   : "float32";
  cfg.update(ours);
  write_file_atomically(staging / "config.json", cfg.dump(2) + "\n");
  nlohmann::json generation = {{"_from_model_config", true},
                               {"bos_token_id", config.bos_token_id},
                               {"eos_token_id", cfg["eos_token_id"]}};
  if (config.pad_token_id >= 0) generation["pad_token_id"] = config.pad_token_id;
  write_file_atomically(staging / "generation_config.json", generation.dump(2) + "\n");

  // Shards fill up to max_shard_bytes in name order, as save_pretrained does.
  std::vector<std::vector<std::pair<std::string, torch::Tensor>>> shards(1);
  uint64_t shard_bytes = 0, total = 0;
  // LoRA adapters are folded into their base weights: merge-and-export.
  for (const auto& [name, value] : merged_parameters(model)) {
    auto t = value.to(torch::kCPU, dtype).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    if (!shards.back().empty() && shard_bytes + bytes > options.max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().emplace_back(name, t);
    shard_bytes += bytes;
    total += bytes;
  }
  if (shards.size() == 1) {
    write_safetensors(staging / "model.safetensors", shards[0]);
  } else {
    nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", nlohmann::json::object()}};
    char name[64];
    for (size_t i = 0; i < shards.size(); ++i) {
      std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
      write_safetensors(staging / name, shards[i]);
      for (const auto& [tensor, _] : shards[i]) index["weight_map"][tensor] = name;
    }
    write_file_atomically(staging / "model.safetensors.index.json", index.dump(2) + "\n");
  }
  if (!options.tokenizer_from.empty()) {
    for (const char* f : kTokenizerFiles)
      if (fs::exists(options.tokenizer_from / f)) fs::copy_file(options.tokenizer_from / f, staging / f);
  }

  // Swap into place: the old folder survives until the new one is complete. What the user put in it
  // (notes, a README) moves into the new one; old weights do not, so no stale shard is left beside
  // the new ones.
  if (fs::exists(dir)) {
    const auto stale_weights = [](const std::string& name) {
      return name == "model.safetensors.index.json" ||
             (name.rfind("model", 0) == 0 && name.size() > 12 && name.ends_with(".safetensors"));
    };
    for (const auto& e : fs::directory_iterator(dir)) {
      const auto name = e.path().filename().string();
      if (!stale_weights(name) && !fs::exists(staging / name)) fs::rename(e.path(), staging / name);
    }
    const fs::path old = parent / (dir.filename().string() + ".old-" + std::to_string(::getpid()));
    fs::rename(dir, old);
    fs::rename(staging, dir);
    fs::remove_all(old);
  } else {
    fs::rename(staging, dir);
  }
}

}  // namespace dpo
