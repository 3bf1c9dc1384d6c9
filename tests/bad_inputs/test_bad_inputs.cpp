// The bad-input table (issue 19): every hostile file or flag the testers found, run through the
// dpo command line. Each case must end with exit status 1 or 2 (never a signal or a hang), print
// exactly one line on stderr that names what was wrong, and leave every file of its folder as it
// was (a failed command creates, truncates and removes nothing).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include "hostile_files.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace hostile;

struct Outcome {
  int code = 0;  // 128 + N: killed by signal N (137: by `timeout`, a hang)
  std::string err;
};

// `timeout` bounds every case: a hang is a finding.
Outcome run_cli(const std::string& args, const fs::path& dir) {
  const auto err = dir.parent_path() / (dir.filename().string() + ".stderr");
  const std::string command = "cd '" + dir.string() + "' && timeout -s KILL 60 " + std::string(DPO_CLI) +
                              " --threads 1 " + args + " >/dev/null 2>'" + err.string() + "'";
  const int status = std::system(command.c_str());
  Outcome o;
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  o.err = slurp(err);
  fs::remove(err);
  return o;
}

const std::string kConversation =
    R"({"prompt": [{"role": "user", "content": "hi"}], "chosen": [{"role": "assistant", "content": "hello"}], "rejected": [{"role": "assistant", "content": "go"}]})"
    "\n";

// A chat template for `data stats --chat-template`, with a conversational dataset beside it.
void template_case(const fs::path& d, const std::string& jinja) {
  write(d / "conv.jsonl", kConversation);
  write(d / "t.jinja", jinja);
}
const std::string kTemplateStats =
    "data stats conv.jsonl --tokenizer m/tokenizer.model --chat-template t.jinja";

struct Case {
  std::string name;
  std::function<void(const fs::path&)> make;  // writes the hostile files into the case's folder
  std::string args;                           // run in the case's folder
  std::vector<std::string> expect;            // the error line holds each of these
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name << ": dpo " << c.args; }

std::vector<Case> cases() {
  auto model_then = [](std::function<void(const fs::path&)> more) {
    return [more](const fs::path& d) {
      copy_model(d);
      more(d);
    };
  };
  auto st_model = [](std::string file) {  // a model whose model.safetensors is replaced
    return [file](const fs::path& d) { write(copy_model(d) / "model.safetensors", file); };
  };
  auto state_edit = [](std::function<void(json&)> change) {
    return [change](const fs::path& d) {
      edit_json(newest_checkpoint(copy_run(d)) / "trainer_state.json", change);
    };
  };
  // The base run finished at step 4 (a checkpoint there); a resume asks for more.
  const std::string resume = "train --resume run --steps 6";
  return {
      // config.json: every value checked before it is used or allocated.
      {"heads_zero",
       [](auto& d) { edit_config(d, [](json& c) { c["num_attention_heads"] = 0; }); },
       "inspect-model m",
       {"config.json", "num_attention_heads"}},
      {"kv_heads_zero",
       [](auto& d) { edit_config(d, [](json& c) { c["num_key_value_heads"] = 0; }); },
       "inspect-model m",
       {"config.json", "num_key_value_heads"}},
      {"hidden_overflow",
       [](auto& d) { edit_config(d, [](json& c) { c["hidden_size"] = std::int64_t{1} << 43; }); },
       "inspect-model m",
       {"config.json", "hidden_size"}},
      {"hidden_not_divisible",
       [](auto& d) { edit_config(d, [](json& c) { c["hidden_size"] = 66; }); },
       "inspect-model m",
       {"config.json", "hidden_size"}},
      {"heads_not_multiple_of_kv",
       [](auto& d) { edit_config(d, [](json& c) { c["num_key_value_heads"] = 3; }); },
       "inspect-model m",
       {"config.json", "num_key_value_heads"}},
      {"layers_negative",
       [](auto& d) { edit_config(d, [](json& c) { c["num_hidden_layers"] = -2; }); },
       "inspect-model m",
       {"config.json", "num_hidden_layers"}},
      {"hidden_as_string",
       [](auto& d) { edit_config(d, [](json& c) { c["hidden_size"] = "abc"; }); },
       "inspect-model m",
       {"config.json", "hidden_size"}},
      {"rope_scaling_number",
       [](auto& d) { edit_config(d, [](json& c) { c["rope_scaling"] = 4; }); },
       "inspect-model m",
       {"config.json", "rope_scaling"}},
      {"eos_as_strings",
       [](auto& d) { edit_config(d, [](json& c) {
                       c["eos_token_id"] = json::array({"a", "b"});
                     }); },
       "inspect-model m",
       {"config.json", "eos_token_id"}},
      {"rope_theta_negative",
       [](auto& d) { edit_config(d, [](json& c) { c["rope_theta"] = -1.0; }); },
       "inspect-model m",
       {"config.json", "rope_theta"}},
      {"config_nested_deep",
       model_then([](auto& d) { write(d / "m/config.json", nested(100000)); }),
       "inspect-model m",
       {"config.json", "nested"}},
      {"config_number_overflow",
       model_then([](auto& d) { write(d / "m/config.json", R"({"hidden_size": 1e400})"); }),
       "inspect-model m",
       {"config.json"}},
      {"config_truncated",
       model_then([](auto& d) { write(d / "m/config.json", R"({"hidden_size": 6)"); }),
       "inspect-model m",
       {"config.json"}},
      {"vocab_too_large_for_checkpoint",
       [](auto& d) { edit_config(d, [](json& c) { c["vocab_size"] = std::int64_t{1000000000000}; }); },
       "train --model m --steps 1 --out out",
       {"vocab_size"}},
      {"vocab_mismatch_checkpoint",
       [](auto& d) { edit_config(d, [](json& c) { c["vocab_size"] = 512; }); },
       "train --model m --steps 1 --out out",
       {"model.safetensors", "embed_tokens"}},
      // model.safetensors: the header is checked before anything is read or allocated.
      {"st_header_length_huge",
       st_model(safetensors("{}", std::uint64_t{1} << 60, "")),
       "train --model m --steps 1 --out out",
       {"model.safetensors", "header"}},
      {"st_header_past_end",
       st_model(safetensors("{}", 4096, "")),
       "train --model m --steps 1 --out out",
       {"model.safetensors", "header"}},
      {"st_header_not_json",
       st_model(safetensors("{\"a\":", "")),
       "train --model m --steps 1 --out out",
       {"model.safetensors"}},
      {"st_header_nested_deep",
       st_model(safetensors(nested(100000), "")),
       "train --model m --steps 1 --out out",
       {"model.safetensors"}},
      {"st_offsets_outside",
       st_model(safetensors(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16000]}})",
                            std::string(16, '\0'))),
       "train --model m --steps 1 --out out",
       {"model.safetensors", "x"}},
      {"st_unknown_dtype",
       st_model(
           safetensors(R"({"x":{"dtype":"Q7","shape":[4],"data_offsets":[0,16]}})", std::string(16, '\0'))),
       "train --model m --steps 1 --out out",
       {"model.safetensors", "x"}},
      {"st_shape_overflow",
       st_model(
           safetensors(R"({"x":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]}})",
                       std::string(16, '\0'))),
       "train --model m --steps 1 --out out",
       {"model.safetensors", "x"}},
      {"st_truncated_data",
       [](auto& d) {
         const auto p = copy_model(d) / "model.safetensors";
         fs::resize_file(p, fs::file_size(p) / 2);
       },
       "train --model m --steps 1 --out out",
       {"model.safetensors"}},
      // Shards lie inside the model folder.
      {"shard_outside_folder",
       [](auto& d) {
         const auto m = copy_model(d);
         fs::rename(m / "model.safetensors", d / "outside.safetensors");
         write(m / "model.safetensors.index.json",
               R"({"weight_map": {"model.embed_tokens.weight": "../outside.safetensors"}})");
       },
       "train --model m --steps 1 --out out",
       {"model.safetensors.index.json", "../outside.safetensors"}},
      {"shard_absolute_path",
       [](auto& d) {
         const auto m = copy_model(d);
         fs::remove(m / "model.safetensors");
         write(m / "model.safetensors.index.json",
               R"({"weight_map": {"model.embed_tokens.weight": "/etc/hostname"}})");
       },
       "train --model m --steps 1 --out out",
       {"model.safetensors.index.json", "/etc/hostname"}},
      // tokenizer.json: a pre-tokenizer regex that never ends names the file and the pattern.
      {"tokenizer_catastrophic_regex",
       [](auto& d) {
         auto tok = json::parse(slurp(fs::path(DPO_SHARED_DATA) / "tokenizers/phi2_gpt2_bpe/tokenizer.json"));
         tok["pre_tokenizer"] = {{"type", "Split"},
                                 {"pattern", {{"Regex", "(a+)+$"}}},
                                 {"behavior", "Isolated"},
                                 {"invert", false}};
         write(d / "tokenizer.json", tok.dump());
         write(d / "text.txt", std::string(20000, 'a') + "!\n");
       },
       "tokenize --tokenizer tokenizer.json < text.txt",
       {"tokenizer.json", "(a+)+$"}},
      {"tokenizer_bad_regex",
       [](auto& d) {
         auto tok = json::parse(slurp(fs::path(DPO_SHARED_DATA) / "tokenizers/phi2_gpt2_bpe/tokenizer.json"));
         tok["pre_tokenizer"] = {{"type", "Split"},
                                 {"pattern", {{"Regex", "([a-z"}}},
                                 {"behavior", "Isolated"},
                                 {"invert", false}};
         write(d / "tokenizer.json", tok.dump());
         write(d / "text.txt", "hello\n");
       },
       "tokenize --tokenizer tokenizer.json < text.txt",
       {"tokenizer.json", "([a-z"}},
      {"tokenizer_nested_deep",
       [](auto& d) { write(d / "tokenizer.json", nested(100000)); },
       "tokenize --tokenizer tokenizer.json < /dev/null",
       {"tokenizer.json"}},
      // The chat-template interpreter has limits of its own.
      {"template_macro_recursion",
       model_then([](auto& d) { template_case(d, "{% macro f(x) %}{{ f(x) }}{% endmacro %}{{ f(1) }}"); }),
       kTemplateStats,
       {"recursion"}},
      {"template_nested_parentheses",
       model_then([](auto& d) {
         template_case(d, "{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}");
       }),
       kTemplateStats,
       {"nest"}},
      {"template_range_ten_million",
       model_then([](auto& d) { template_case(d, "{% for i in range(10000000) %}x{% endfor %}"); }),
       kTemplateStats,
       {"range"}},
      {"template_nested_loops",
       model_then([](auto& d) {
         template_case(d,
                       "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
                       "{% endfor %}{% endfor %}{% endfor %}");
       }),
       kTemplateStats,
       {"iterations"}},
      {"template_string_ten_gigabytes",
       model_then([](auto& d) { template_case(d, "{{ 'a' * 10000000000 }}"); }),
       kTemplateStats,
       {"string"}},
      {"template_range_billion",
       model_then([](auto& d) { template_case(d, "{% for i in range(1000000000) %}{% endfor %}"); }),
       kTemplateStats,
       {"range"}},
      {"template_range_overflow",
       model_then([](auto& d) {
         template_case(
             d, "{% for i in range(-9223372036854775807, 9223372036854775807, 3) %}{{ i }}{% endfor %}");
       }),
       kTemplateStats,
       {"range"}},
      // Datasets.
      {"jsonl_nested_deep_line_2",
       [](auto& d) { write(d / "deep.jsonl", pairs_jsonl(1) + R"({"prompt": )" + nested(100000) + "}\n"); },
       "data stats deep.jsonl",
       {"deep.jsonl:2", "nested"}},
      {"json_array_nested_deep",
       [](auto& d) { write(d / "deep.json", "[" + nested(100000) + "]"); },
       "data stats deep.json",
       {"deep.json", "nested"}},
      {"jsonl_number_overflow",
       [](auto& d) {
         write(d / "p.jsonl", R"({"prompt": "a", "chosen": "b", "rejected": 1e400})"
                              "\n");
       },
       "data stats p.jsonl",
       {"p.jsonl:1"}},
      {"jsonl_missing_rejected",
       [](auto& d) { write(d / "p.jsonl", pairs_jsonl(2) + R"({"prompt": "q", "chosen": "a"})" + "\n"); },
       "data stats p.jsonl",
       {"p.jsonl:3", "rejected"}},
      {"jsonl_row_too_long",
       [](auto& d) {
         write(d / "long.jsonl", pairs_jsonl(1) + R"({"prompt": ")" + std::string(70u << 20, 'x') +
                                     R"(", "chosen": "a", "rejected": "b"})" + "\n");
       },
       "data stats long.jsonl",
       {"long.jsonl:2"}},
      {"gzip_cut_after_complete_line",
       [](auto& d) {
         const auto gz = gzip(pairs_jsonl(200));
         write(d / "p.jsonl.gz", gz.substr(0, gz.size() - 8));  // the trailer: CRC-32 and length
       },
       "data stats p.jsonl.gz",
       {"p.jsonl.gz"}},
      {"gzip_cut_in_half",
       [](auto& d) {
         const auto gz = gzip(pairs_jsonl(200));
         write(d / "p.jsonl.gz", gz.substr(0, gz.size() / 2));
       },
       "data stats p.jsonl.gz",
       {"p.jsonl.gz"}},
      {"gzip_bad_crc",
       [](auto& d) {
         auto gz = gzip(pairs_jsonl(200));
         gz[gz.size() - 8] = static_cast<char>(gz[gz.size() - 8] ^ 0x5a);
         write(d / "p.jsonl.gz", gz);
       },
       "data stats p.jsonl.gz",
       {"p.jsonl.gz"}},
      {"csv_missing_column",
       [](auto& d) { write(d / "p.csv", "prompt,chosen\nq,a\n"); },
       "data stats p.csv",
       {"p.csv", "rejected"}},
      // Flags.
      {"loss_weight_not_a_number",
       [](auto&) {},
       "train --loss sigmoid:abc,ipo:1 --steps 1 --out out",
       {"--loss", "abc"}},
      {"train_into_existing_run", [](auto& d) { copy_run(d); }, "train --steps 1 --out run", {"run"}},
      // Run folders: a resume validates everything before it touches a record.
      {"resume_order_out_of_range",
       state_edit([](json& s) { s["data_order"][3] = 1234; }),
       resume,
       {"trainer_state.json", "data_order", "1234 at index 3"}},
      {"resume_negative_step",
       state_edit([](json& s) { s["step"] = -2; }),
       resume,
       {"trainer_state.json", "step", "-2"}},
      {"resume_state_wrong_type",
       state_edit([](json& s) { s["cursor"] = "sixteen"; }),
       resume,
       {"trainer_state.json", "cursor"}},
      {"resume_optimizer_truncated",
       [](auto& d) {
         const auto f = newest_checkpoint(copy_run(d)) / "optimizer.safetensors";
         fs::resize_file(f, fs::file_size(f) / 2);
       },
       resume,
       {"optimizer.safetensors"}},
      {"resume_optimizer_pickle",
       [](auto& d) {
         const auto c = newest_checkpoint(copy_run(d));
         fs::remove(c / "optimizer.safetensors");
         fs::remove(c / "optimizer.json");
         write(c / "optimizer.pt", "PK\x03\x04 a torch archive");
       },
       resume,
       {"optimizer.pt", "older version"}},
      {"resume_rng_wrong_size",
       [](auto& d) {
         write(newest_checkpoint(copy_run(d)) / "rng.safetensors",
               safetensors(R"({"cpu_generator": {"dtype": "U8", "shape": [3], "data_offsets": [0, 3]}})",
                           "abc"));
       },
       resume,
       {"rng.safetensors", "cpu_generator"}},
      {"resume_steps_below_checkpoint",
       [](auto& d) { copy_run(d); },
       "train --resume run --steps 3",
       {"--steps 3 is below the checkpoint's step 4"}},
      {"resume_setting_cannot_change",
       [](auto& d) { copy_run(d); },
       "train --resume run --steps 6 --max-length 64",
       {"--resume: max_length cannot change"}},
      {"resume_state_nested_deep",
       [](auto& d) { write(newest_checkpoint(copy_run(d)) / "trainer_state.json", nested(100000)); },
       resume,
       {"trainer_state.json"}},
      {"resume_config_not_json",
       [](auto& d) { write(copy_run(d) / "config.json", "{\"trainer\": "); },
       resume,
       {"config.json"}},
      // Lessons and records.
      {"lesson_file_not_json",
       [](auto& d) { write(d / "l.json", R"({"number": 1, "title": )"); },
       "lesson run l.json",
       {"l.json"}},
      {"lesson_file_nested_deep",
       [](auto& d) { write(d / "l.json", nested(100000)); },
       "lesson run l.json",
       {"l.json"}},
      {"diagnose_metrics_garbage",
       [](auto& d) {
         const auto r = copy_run(d);
         std::ofstream(r / "metrics.jsonl", std::ios::app) << "{\"step\": 5, \"loss\": \n";
       },
       "diagnose run",
       {"metrics.jsonl"}},
  };
}

class BadInput : public testing::TestWithParam<Case> {};

TEST_P(BadInput, OneLineNonZeroExitNothingChanged) {
  const Case& c = GetParam();
  const auto dir = root() / c.name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  c.make(dir);
  const auto before = snapshot(dir);
  const auto o = run_cli(c.args, dir);
  EXPECT_NE(o.code, 137) << "killed: ran past 60 s";
  EXPECT_LT(o.code, 128) << "killed by signal " << o.code - 128 << "; stderr:\n" << o.err.substr(0, 2000);
  EXPECT_TRUE(o.code == 1 || o.code == 2) << "exit " << o.code << "; stderr:\n" << o.err.substr(0, 2000);
  std::vector<std::string> lines;
  std::istringstream in(o.err);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  ASSERT_EQ(lines.size(), 1u) << "stderr:\n" << o.err.substr(0, 2000);
  EXPECT_EQ(lines[0].rfind("error: ", 0), 0u) << lines[0];
  for (const auto& piece : c.expect)
    EXPECT_NE(lines[0].find(piece), std::string::npos) << piece << " in: " << lines[0];
  const auto after = snapshot(dir);
  for (const auto& [path, bytes] : before) {
    auto it = after.find(path);
    if (it == after.end())
      ADD_FAILURE() << path << " was removed";
    else if (it->second != bytes)
      ADD_FAILURE() << path << " was changed";
  }
  for (const auto& [path, bytes] : after)
    if (!before.count(path)) ADD_FAILURE() << path << " was created";
  if (!HasFailure()) fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Table, BadInput, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<Case>& param) { return param.param.name; });

TEST(BadInputTable, HasAtLeastFortyCases) { EXPECT_GE(cases().size(), 40u); }

// The scratch folder goes when every case passed; a failing case's folder stays to look at.
class RemoveScratch : public testing::Environment {
 public:
  void TearDown() override {
    if (!testing::UnitTest::GetInstance()->Failed()) fs::remove_all(root());
  }
};
const auto* const kScratch = testing::AddGlobalTestEnvironment(new RemoveScratch);

}  // namespace
