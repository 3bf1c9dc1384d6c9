#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/io/hf_folder.h"
#include "core/io/safetensors.h"
#include "core/runtime/error.h"
#include "tiny_checkpoint.h"

namespace fs = std::filesystem;

namespace {

const fs::path kReferenceDir = fs::path(__FILE__).parent_path().parent_path() / "reference";

fs::path fresh_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("dpo_hf_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

const std::vector<int64_t> kIds = {1, 7, 30, 4, 4, 19, 2};

torch::Tensor our_logits(const fs::path& dir) {
  auto loaded = dpo::load_hf_model(dir);
  loaded.model->eval();
  torch::NoGradGuard no_grad;
  auto ids = torch::tensor(kIds, torch::kLong).view({1, -1});
  return loaded.model(ids, torch::ones_like(ids)).squeeze(0).to(torch::kFloat64);  // (T, V)
}

torch::Tensor json_logits(const nlohmann::json& j) {
  std::vector<double> flat;
  for (const auto& row : j)
    for (double v : row) flat.push_back(v);
  return torch::tensor(flat, torch::kFloat64).view({static_cast<int64_t>(j.size()), -1});
}

// Debian's python3-torch lives under /usr/bin/python3, which may not be the first python3 on PATH.
std::string python_with_torch() {
  for (const char* python : {"/usr/bin/python3", "python3"})
    if (std::system((std::string(python) + " -c 'import torch' >/dev/null 2>&1").c_str()) == 0) return python;
  return "";
}

void check_golden(const std::string& variant, const nlohmann::json& config, torch::ScalarType dtype) {
  auto dir = fresh_dir(variant);
  write_checkpoint(dir, config, dtype);
  auto ours = our_logits(dir);
  ASSERT_EQ(ours.sizes(), (std::vector<int64_t>{7, 32}));

  // Committed numbers from tests/reference/llama_reference.py (regenerate with DPO_UPDATE_GOLDEN=1).
  const auto golden_path = kReferenceDir / ("golden_" + variant + ".json");
  if (const auto python = python_with_torch(); !python.empty()) {
    std::string ids = nlohmann::json(kIds).dump();
    std::string cmd = python + " " + (kReferenceDir / "llama_reference.py").string() + " " + dir.string() +
                      " '" + ids + "'";
    std::string out;
    FILE* pipe = popen(cmd.c_str(), "r");
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
    ASSERT_EQ(pclose(pipe), 0) << cmd;
    auto reference = json_logits(nlohmann::json::parse(out)["logits"]);
    EXPECT_LE((ours - reference).abs().max().item<double>(), 1e-5) << variant << " vs live Python reference";
    if (std::getenv("DPO_UPDATE_GOLDEN") != nullptr) std::ofstream(golden_path) << out;
  }
  std::ifstream in(golden_path);
  ASSERT_TRUE(in) << golden_path;
  auto golden = json_logits(nlohmann::json::parse(in)["logits"]);
  EXPECT_LE((ours - golden).abs().max().item<double>(), 1e-5) << variant << " vs committed golden logits";
  EXPECT_GT(golden.abs().max().item<double>(), 0.01);  // the comparison is not between zeros
}

}  // namespace

TEST(HfModel, LlamaGqaUntiedLlama3RopeMatchesReference) {
  check_golden("llama3", llama3_config(), torch::kFloat32);
}

TEST(HfModel, Qwen2BiasTiedBf16MatchesReference) { check_golden("qwen2", qwen2_config(), torch::kBFloat16); }

TEST(HfModel, ConfigFieldsAreRead) {
  auto c = dpo::parse_hf_config(llama3_config(), "config.json");
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.rope_scaling_type, "llama3");
  EXPECT_EQ(c.eos_token_id, 2);
  EXPECT_EQ(c.extra_eos_token_ids, std::vector<int64_t>{3});
  auto q = dpo::parse_hf_config(qwen2_config(), "config.json");
  EXPECT_TRUE(q.attention_bias);
  EXPECT_TRUE(q.tie_word_embeddings);
  EXPECT_EQ(q.bos_token_id, -1);
}

TEST(HfModel, UnsupportedArchitectureOrRopeIsNamed) {
  auto c = llama3_config();
  c["architectures"] = {"GPTNeoXForCausalLM"};
  try {
    dpo::parse_hf_config(c, "cfg.json");
    FAIL();
  } catch (const dpo::ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "cfg.json: unsupported architecture \"GPTNeoXForCausalLM\" (supported: "
              "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)");
  }
  c = llama3_config();
  c["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  try {
    dpo::parse_hf_config(c, "cfg.json");
    FAIL();
  } catch (const dpo::ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "cfg.json: unsupported rope_scaling type \"yarn\" (supported: linear, llama3)");
  }
}

TEST(HfModel, MissingAndUnexpectedTensorsAreReported) {
  auto dir = fresh_dir("missing");
  write_checkpoint(dir, llama3_config(), torch::kFloat32);
  {
    auto file = dpo::SafetensorsFile::open(dir / "model.safetensors");
    std::vector<std::pair<std::string, torch::Tensor>> kept;
    for (const auto& e : file->entries())
      if (e.name != "model.norm.weight") kept.emplace_back(e.name, file->tensor(e.name).clone());
    kept.emplace_back("model.layers.0.self_attn.rotary_emb.inv_freq", torch::ones({4}));
    kept.emplace_back("score.weight", torch::ones({2}));
    dpo::write_safetensors(dir / "model.safetensors", kept);
  }
  try {
    dpo::load_hf_model(dir);
    FAIL();
  } catch (const dpo::ModelError& e) {
    EXPECT_EQ(std::string(e.what()),
              dir.string() + ": checkpoint lacks 1 tensors the config needs: model.norm.weight");
  }
}

TEST(HfModel, ShapeMismatchNamesTheTensor) {
  auto dir = fresh_dir("shape");
  write_checkpoint(dir, llama3_config(), torch::kFloat32);
  auto config = llama3_config();
  config["intermediate_size"] = 64;
  std::ofstream(dir / "config.json") << config.dump();
  try {
    dpo::load_hf_model(dir);
    FAIL();
  } catch (const dpo::ModelError& e) {
    EXPECT_EQ(std::string(e.what()),
              (dir / "model.safetensors").string() +
                  ": model.layers.0.mlp.gate_proj.weight: shape [48, 32] does not match "
                  "config.json (intermediate_size 64 x hidden_size 32)");
  }
}

TEST(HfModel, ExportRoundTripIsBitExactAndShards) {
  auto src = fresh_dir("src");
  write_checkpoint(src, llama3_config(), torch::kFloat32);
  std::ofstream(src / "tokenizer.json") << "{}";
  auto loaded = dpo::load_hf_model(src);
  EXPECT_EQ(loaded.report.unexpected.size(), 0u);

  auto out = fresh_dir("out");
  fs::remove_all(out);
  dpo::ExportOptions options;
  options.max_shard_bytes = 20'000;  // forces several shards for this 74 KB model
  options.tokenizer_from = src;
  options.raw_config = loaded.raw_config;
  dpo::export_hf_model(loaded.model, out, options);
  EXPECT_TRUE(fs::exists(out / "model.safetensors.index.json"));
  const auto shards = dpo::checkpoint_files(out);
  ASSERT_GE(shards.size(), 3u);
  EXPECT_EQ(shards.front().filename().string(),
            "model-00001-of-0000" + std::to_string(shards.size()) + ".safetensors");
  EXPECT_FALSE(fs::exists(out / "model.safetensors"));
  EXPECT_TRUE(fs::exists(out / "tokenizer.json"));
  EXPECT_TRUE(fs::exists(out / "generation_config.json"));
  auto config = nlohmann::json::parse(std::ifstream(out / "config.json"));
  EXPECT_EQ(config["rope_scaling"]["rope_type"], "llama3");
  EXPECT_EQ(config["eos_token_id"], nlohmann::json({2, 3}));

  auto again = dpo::load_hf_model(out);
  auto a = loaded.model->named_parameters(), b = again.model->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& p : a) EXPECT_TRUE(torch::equal(p.value(), b[p.key()])) << p.key();

  // An existing folder is never replaced unless asked.
  EXPECT_THROW(dpo::export_hf_model(loaded.model, out, {}), dpo::ModelError);
}

TEST(HfModel, Bf16CheckpointRoundTripsThroughFloat32Exactly) {
  auto src = fresh_dir("bf16");
  write_checkpoint(src, qwen2_config(), torch::kBFloat16);
  auto loaded = dpo::load_hf_model(src);
  auto out = fresh_dir("bf16_out");
  fs::remove_all(out);
  dpo::export_hf_model(loaded.model, out, {.raw_config = loaded.raw_config});
  auto before = dpo::SafetensorsFile::open(src / "model.safetensors");
  auto after = dpo::SafetensorsFile::open(out / "model.safetensors");
  for (const auto& e : before->entries()) {
    EXPECT_EQ(after->entry(e.name).dtype, "BF16") << e.name;
    EXPECT_TRUE(torch::equal(before->tensor(e.name), after->tensor(e.name))) << e.name;
  }
}
