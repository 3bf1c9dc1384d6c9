// Hostile model folders (issue 19): every broken config.json, index, safetensors header and
// tokenizer.json is refused with one line naming the file, the key or tensor and what was expected,
// before anything is sized from it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "core/io/hf_folder.h"
#include "core/io/json_file.h"
#include "core/io/safetensors.h"
#include "core/io/safetensors_header.h"
#include "core/model/config.h"
#include "core/model/lora.h"
#include "core/runtime/error.h"
#include "core/tokenizer/bpe_tokenizer.h"
#include "core/tokenizer/tokenizer_config.h"
#include "tests/test_files.h"
#include "tiny_checkpoint.h"

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

namespace {

const fs::path kPhi2Tokenizer = fs::path(DPO_SHARED_DATA) / "tokenizers/phi2_gpt2_bpe/tokenizer.json";

fs::path fresh_dir(const std::string& name) { return dpo::testing_files::fresh_dir("hostile", name); }
using dpo::testing_files::slurp;
void write(const fs::path& p, const std::string& text) { dpo::testing_files::write_file(p, text); }

std::string nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// The message of the dpo::Error `f` throws ("" when it throws none), and that it was quick.
std::string error_of(const std::function<void()>& f) {
  const auto start = std::chrono::steady_clock::now();
  std::string message;
  try {
    f();
  } catch (const dpo::Error& e) {
    message = e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20)) << message;
  return message;
}

// A real tiny checkpoint whose config.json is then changed.
fs::path model_with(const std::string& name, const std::function<void(json&)>& change) {
  auto dir = fresh_dir(name);
  write_checkpoint(dir, llama3_config(), torch::kFloat32);
  auto config = llama3_config();
  change(config);
  write(dir / "config.json", config.dump());
  return dir;
}

std::string config_error(const std::string& name, const std::function<void(json&)>& change) {
  const auto dir = model_with(name, change);
  return error_of([&] { dpo::read_hf_config(dir); });
}

std::string safetensors_bytes(const std::string& header, const std::string& data, uint64_t length) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((length >> (8 * i)) & 0xFF);
  return out + header + data;
}
std::string safetensors_bytes(const std::string& header, const std::string& data) {
  return safetensors_bytes(header, data, header.size());
}

}  // namespace

TEST(HostileModel, ConfigSizesArePositiveBoundedAndDivisible) {
  const auto dir = model_with("heads_zero", [](json& c) { c["num_attention_heads"] = 0; });
  EXPECT_EQ(error_of([&] { dpo::read_hf_config(dir); }),
            (dir / "config.json").string() + ": num_attention_heads: expected a positive integer, got 0");
  EXPECT_THAT(config_error("kv_zero", [](json& c) { c["num_key_value_heads"] = 0; }),
              HasSubstr("config.json: num_key_value_heads: expected a positive integer, got 0"));
  EXPECT_THAT(config_error("layers_negative", [](json& c) { c["num_hidden_layers"] = -2; }),
              HasSubstr("config.json: num_hidden_layers: expected a positive integer, got -2"));
  EXPECT_THAT(config_error("hidden_huge", [](json& c) { c["hidden_size"] = int64_t{1} << 43; }),
              HasSubstr("config.json: hidden_size: expected at most 1048576, got 8796093022208"));
  EXPECT_THAT(config_error("vocab_huge", [](json& c) { c["vocab_size"] = int64_t{1000000000000}; }),
              HasSubstr("config.json: vocab_size: expected at most 2147483647, got 1000000000000"));
  EXPECT_THAT(config_error("hidden_66", [](json& c) { c["hidden_size"] = 66; }),
              HasSubstr("config.json: hidden_size: 66 is not a multiple of num_attention_heads (4)"));
  EXPECT_THAT(config_error("kv_3", [](json& c) { c["num_key_value_heads"] = 3; }),
              HasSubstr("config.json: num_key_value_heads: num_attention_heads (4) must be a multiple of "
                        "num_key_value_heads (3)"));
  EXPECT_THAT(config_error("theta", [](json& c) { c["rope_theta"] = -1.0; }),
              HasSubstr("config.json: rope_theta: expected a finite positive number, got -1"));
  EXPECT_THAT(config_error("eps", [](json& c) { c["rms_norm_eps"] = 0; }),
              HasSubstr("config.json: rms_norm_eps: expected a finite positive number, got 0"));
  EXPECT_THAT(
      config_error("freq", [](json& c) { c["rope_scaling"]["high_freq_factor"] = 1.0; }),
      HasSubstr("config.json: rope_scaling.high_freq_factor: expected more than low_freq_factor (1), got 1"));
  // Each size within its bound, the product not: refused before the count could overflow.
  EXPECT_THAT(config_error("count",
                           [](json& c) {
                             c["vocab_size"] = 2000000000;
                             c["hidden_size"] = 1 << 20;
                             c["num_attention_heads"] = 1 << 10;
                             c["num_key_value_heads"] = 1 << 10;
                             c["intermediate_size"] = 1 << 22;
                             c["num_hidden_layers"] = 4096;
                           }),
              HasSubstr("parameters, more than the 1099511627776 (2^40) this program handles"));
  dpo::LlamaConfig overflowing;
  overflowing.hidden_size = int64_t{1} << 43;
  overflowing.intermediate_size = int64_t{1} << 43;
  EXPECT_THAT(error_of([&] { (void)overflowing.parameter_count(); }), HasSubstr("overflows 64 bits"));
}

TEST(HostileModel, WrongJsonTypesNameFileKeyAndType) {
  EXPECT_THAT(config_error("hidden_abc", [](json& c) { c["hidden_size"] = "abc"; }),
              HasSubstr("config.json: hidden_size: expected an integer, got a string"));
  EXPECT_THAT(config_error("hidden_float", [](json& c) { c["hidden_size"] = 32.5; }),
              HasSubstr("config.json: hidden_size: expected an integer, got a number with a fraction"));
  EXPECT_THAT(config_error("rope_number", [](json& c) { c["rope_scaling"] = 4; }),
              HasSubstr("config.json: rope_scaling: expected an object or null, got an integer"));
  EXPECT_THAT(config_error("rope_factor", [](json& c) { c["rope_scaling"]["factor"] = "8"; }),
              HasSubstr("config.json: rope_scaling: factor: expected a number, got a string"));
  EXPECT_THAT(config_error("eos_strings",
                           [](json& c) {
                             c["eos_token_id"] = {"a", "b"};
                           }),
              HasSubstr("config.json: eos_token_id[0]: expected an integer, got a string"));
  EXPECT_THAT(
      config_error("eos_object", [](json& c) { c["eos_token_id"] = json::object(); }),
      HasSubstr("config.json: eos_token_id: expected an integer or a list of integers, got an object"));
  EXPECT_THAT(config_error("arch", [](json& c) { c["architectures"] = 7; }),
              HasSubstr("config.json: architectures: expected a list of strings, got an integer"));
  EXPECT_THAT(config_error("tie", [](json& c) { c["tie_word_embeddings"] = "yes"; }),
              HasSubstr("config.json: tie_word_embeddings: expected true or false, got a string"));

  // tokenizer_config.json: a wrongly typed "name" in the template list no longer leaks nlohmann's text.
  const auto message = error_of([] {
    dpo::parse_tokenizer_config(R"({"chat_template": [{"name": 5, "template": "x"}]})",
                                "m/tokenizer_config.json");
  });
  EXPECT_THAT(message, HasSubstr("m/tokenizer_config.json: "));
  EXPECT_THAT(error_of([] { dpo::parse_tokenizer_config(R"({"bos_token": 5})", "m/tokenizer_config.json"); }),
              HasSubstr("m/tokenizer_config.json: \"bos_token\" must be a string"));
}

TEST(HostileModel, DeeplyNestedJsonIsRefusedBeforeParsing) {
  EXPECT_EQ(dpo::json_nesting_depth(R"({"a": [1, {"b": "[[[[{{{{"}]})", 256), 3u);
  EXPECT_EQ(dpo::json_nesting_depth(R"(["\"[[[", [[]]])", 256), 3u);
  EXPECT_EQ(dpo::json_nesting_depth(nested(1000000), 256), 257u);  // stops counting past the limit

  auto dir = fresh_dir("deep");
  write_checkpoint(dir, llama3_config(), torch::kFloat32);
  write(dir / "config.json", nested(100000));
  EXPECT_EQ(error_of([&] { dpo::load_hf_model(dir); }),
            (dir / "config.json").string() + ": JSON nested deeper than 256 levels");

  write(dir / "config.json", llama3_config().dump());
  write(dir / "model.safetensors.index.json", "{\"weight_map\": " + nested(100000) + "}");
  EXPECT_EQ(error_of([&] { dpo::load_hf_model(dir); }),
            (dir / "model.safetensors.index.json").string() + ": JSON nested deeper than 256 levels");
  fs::remove(dir / "model.safetensors.index.json");

  write(dir / "tokenizer.json", "{\"model\": " + nested(100000) + "}");
  EXPECT_EQ(error_of([&] { dpo::BpeTokenizer::from_file((dir / "tokenizer.json").string()); }),
            (dir / "tokenizer.json").string() + ": JSON nested deeper than 256 levels");
  write(dir / "tokenizer_config.json", nested(300));
  EXPECT_EQ(error_of([&] { dpo::read_tokenizer_config((dir / "tokenizer_config.json").string()); }),
            (dir / "tokenizer_config.json").string() + ": JSON nested deeper than 256 levels");

  // Sizes are checked before reading: a 17 MB config.json is not read at all.
  write(dir / "config.json", std::string(17u << 20, ' '));
  EXPECT_THAT(error_of([&] { dpo::read_hf_config(dir); }),
              HasSubstr((dir / "config.json").string() + ": 17825792 bytes, more than the 16777216"));
}

TEST(HostileModel, SafetensorsHeadersAreCheckedBeforeAnythingIsAllocated) {
  using dpo::parse_safetensors_header;
  auto error = [](const std::string& bytes) {
    return error_of([&] { parse_safetensors_header(bytes, "f"); });
  };
  EXPECT_EQ(error(safetensors_bytes("{}", "", uint64_t{1} << 60)),
            "f: header length 1152921504606846976 exceeds the file size 10");
  EXPECT_EQ(error(safetensors_bytes(nested(100000), "")),
            "f: header is not valid JSON (nested deeper than 8 levels)");
  EXPECT_EQ(
      error(
          safetensors_bytes(R"({"x":{"dtype":"Q7","shape":[4],"data_offsets":[0,16]}})", std::string(16, 0))),
      "f: tensor \"x\": unknown dtype \"Q7\" (expected F32, F16, BF16, F64, I64, I32, I16, I8, U8 or BOOL)");
  EXPECT_EQ(error(safetensors_bytes(
                R"({"x":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]}})",
                std::string(16, 0))),
            "f: tensor \"x\": shape [4294967296, 4294967296, 16] of F32 overflows 64 bits");
  EXPECT_EQ(
      error(safetensors_bytes(R"({"x":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,16]}})",
                              std::string(16, 0))),
      "f: tensor \"x\": shape entries must be non-negative integers");
  EXPECT_EQ(error(safetensors_bytes(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16000]}})",
                                    std::string(16, 0))),
            "f: tensor \"x\": data_offsets [0, 16000] lie outside the data area of 16 bytes");
  EXPECT_EQ(error(safetensors_bytes(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[16,0]}})",
                                    std::string(16, 0))),
            "f: tensor \"x\": data_offsets [16, 0] lie outside the data area of 16 bytes");
  const auto ok = parse_safetensors_header(
      safetensors_bytes(
          R"({"__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},)"
          R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
          std::string(12, 0)),
      "f");
  ASSERT_EQ(ok.entries.size(), 2u);
  EXPECT_EQ(ok.entries[1].name, "b");
  EXPECT_EQ(ok.entries[1].shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(ok.metadata.at("format"), "pt");

  // A header length past the limit in a (sparse) file large enough to hold it: refused unread.
  auto dir = fresh_dir("st");
  const auto big = dir / "model.safetensors";
  write(big, safetensors_bytes("", "", uint64_t{150} << 20));
  fs::resize_file(big, uint64_t{200} << 20);
  EXPECT_EQ(error_of([&] { dpo::SafetensorsFile::open(big); }),
            big.string() +
                ": header length 157286400 is more than the 104857600 bytes a safetensors header may have");
  EXPECT_EQ(error_of([&] { dpo::read_safetensors_header(big); }),
            big.string() +
                ": header length 157286400 is more than the 104857600 bytes a safetensors header may have");
}

TEST(HostileModel, ConfigShapesAreCheckedAgainstTheCheckpointFirst) {
  // 2^31 - 1 tokens x 64 would be a 512 GiB embedding: the header says otherwise, nothing is built.
  auto dir = model_with("vocab", [](json& c) { c["vocab_size"] = 2147483647; });
  EXPECT_EQ(
      error_of([&] { dpo::load_hf_model(dir); }),
      (dir / "model.safetensors").string() +
          ": model.embed_tokens.weight: shape [32, 32] does not match config.json (vocab_size 2147483647 x "
          "hidden_size 32)");
  dir = model_with("kv", [](json& c) { c["num_key_value_heads"] = 4; });
  EXPECT_EQ(error_of([&] { dpo::load_hf_model(dir); }),
            (dir / "model.safetensors").string() +
                ": model.layers.0.self_attn.k_proj.weight: shape [16, 32] does not match config.json "
                "(num_key_value_heads 4 * head_dim 8 x hidden_size 32)");

  // The list the check uses is exactly what the model has, for every variant.
  for (auto config : {llama3_config(), qwen2_config()}) {
    const auto c = dpo::parse_hf_config(config, "config.json");
    dpo::LlamaForCausalLM model(c);
    std::map<std::string, std::vector<int64_t>> actual, expected;
    for (const auto& p : model->named_parameters()) actual[p.key()] = p.value().sizes().vec();
    for (const auto& e : dpo::expected_tensors(c)) expected[e.name] = e.shape;
    EXPECT_EQ(actual, expected) << config.dump();
  }
}

TEST(HostileModel, ShardsStayInsideTheModelFolder) {
  auto dir = fresh_dir("shards");
  const auto m = dir / "m";
  fs::create_directories(m);
  write_checkpoint(m, llama3_config(), torch::kFloat32);
  fs::rename(m / "model.safetensors", dir / "outside.safetensors");
  const auto index = (m / "model.safetensors.index.json").string();
  auto with_shard = [&](const std::string& shard) {
    write(index, json{{"weight_map", {{"model.embed_tokens.weight", shard}}}}.dump());
    return error_of([&] { dpo::checkpoint_files(m); });
  };
  EXPECT_EQ(with_shard("../outside.safetensors"),
            index + ": shard \"../outside.safetensors\" is outside the model folder");
  EXPECT_EQ(with_shard("/etc/hostname"), index + ": shard \"/etc/hostname\" is outside the model folder");
  EXPECT_EQ(with_shard("a/../../outside.safetensors"),
            index + ": shard \"a/../../outside.safetensors\" is outside the model folder");
  EXPECT_EQ(with_shard("config.json"), index + ": shard \"config.json\" is not a .safetensors file");
  fs::create_symlink(dir / "outside.safetensors", m / "link.safetensors");
  EXPECT_EQ(with_shard("link.safetensors"),
            index + ": shard \"link.safetensors\" is outside the model folder");
  fs::create_directories(m / "sub");
  fs::rename(dir / "outside.safetensors", m / "sub/model.safetensors");
  EXPECT_EQ(with_shard("sub/model.safetensors"), "");  // inside, in a subfolder: fine
  write(index, R"({"weight_map": {"model.embed_tokens.weight": 7}})");
  EXPECT_EQ(error_of([&] { dpo::checkpoint_files(m); }),
            index + ": weight_map[\"model.embed_tokens.weight\"]: expected a file name, got an integer");
}

TEST(HostileModel, TokenizerRegexFailuresNameFileAndPattern) {
  auto dir = fresh_dir("regex");
  auto tokenizer = json::parse(slurp(kPhi2Tokenizer));
  tokenizer["pre_tokenizer"] = {
      {"type", "Split"}, {"pattern", {{"Regex", "(a+)+$"}}}, {"behavior", "Isolated"}, {"invert", false}};
  const auto path = (dir / "tokenizer.json").string();
  write(path, tokenizer.dump());
  auto bpe = dpo::BpeTokenizer::from_file(path);
  EXPECT_EQ(error_of([&] { bpe->encode(std::string(20000, 'a') + "!"); }),
            path + ": pre_tokenizer pattern \"(a+)+$\": PCRE2 match limit exceeded");

  const std::string long_pattern = "([a-z" + std::string(100, 'b');
  tokenizer["pre_tokenizer"]["pattern"]["Regex"] = long_pattern;
  write(path, tokenizer.dump());
  EXPECT_THAT(error_of([&] { dpo::BpeTokenizer::from_file(path); }),
              HasSubstr(path + ": pre_tokenizer pattern \"" + long_pattern.substr(0, 60) +
                        "...\": does not compile at offset 105: missing terminating ] for character class"));
}

TEST(HostileModel, AdapterConfigIsTypedAndBounded) {
  auto dir = fresh_dir("adapter");
  const auto path = (dir / "adapter_config.json").string();
  auto error = [&](const json& j) {
    write(path, j.dump());
    return error_of([&] { dpo::read_lora_config(dir); });
  };
  EXPECT_EQ(error({{"peft_type", "LORA"}, {"r", 1000000000}}),
            path + ": r: expected 1 to 4096, got 1000000000");
  EXPECT_EQ(error({{"peft_type", "LORA"}, {"r", "8"}}), path + ": r: expected an integer, got a string");
  EXPECT_EQ(error({{"peft_type", "LORA"}, {"r", 8}, {"target_modules", "q_proj"}}),
            path + ": target_modules: expected a list of strings, got a string");
  EXPECT_EQ(error({{"peft_type", 7}}), path + ": peft_type is not \"LORA\"");
  write(path, nested(1000));
  EXPECT_EQ(error_of([&] { dpo::read_lora_config(dir); }), path + ": JSON nested deeper than 256 levels");
  write(path,
        json{{"peft_type", "LORA"}, {"r", 4}, {"lora_alpha", 8}, {"target_modules", {"q_proj"}}}.dump());
  const auto c = dpo::read_lora_config(dir);
  EXPECT_EQ(c.r, 4);
  EXPECT_EQ(c.alpha, 8.0);
  EXPECT_EQ(c.target_modules, (std::vector<std::string>{"q_proj"}));
}
