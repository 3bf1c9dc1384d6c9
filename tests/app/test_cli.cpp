#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_runner.h"

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace {

// Runs the CLI with `input` on its standard input.
Result run_with_input(const std::string& args, const std::string& input) {
  const auto file = fs::temp_directory_path() / ("dpo_cli_stdin_" + std::to_string(getpid()));
  std::ofstream(file) << input;
  return run(args + " < " + file.string());
}

fs::path fresh_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("dpo_cli_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  return dir;
}
}  // namespace

TEST(Cli, VersionNamesTheBlas) {
  auto r = run("--version");
  EXPECT_EQ(r.code, 0);
  // The version is CMake's project(VERSION), the one place it is written.
  EXPECT_EQ(r.output.rfind("dpo-studio " DPO_PROJECT_VERSION ", libtorch ", 0), 0u) << r.output;
  EXPECT_NE(r.output.find("libtorch 1."), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("BLAS: OpenBLAS"), std::string::npos) << r.output;
  EXPECT_NE(run("--threads 1 --version").output.find("threads: 1"), std::string::npos);
}

TEST(Cli, TrainWritesOneMetricsLinePerStep) {
  auto dir = fresh_dir("train");
  auto r = run("--threads 2 train --steps 3 --beta 0.2 --out " + dir.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("step    3"), std::string::npos) << r.output;
  std::ifstream in(dir / "metrics.jsonl");
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 3u);
  for (const char* key :
       {"loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "logps/chosen",
        "logps/rejected", "length/chosen", "length/rejected"})
    EXPECT_TRUE(rows[0].contains(key)) << key;
  EXPECT_EQ(rows[2]["step"], 3);
  EXPECT_NEAR(rows[0]["loss"].get<double>(), 0.6931471805599453, 1e-4);  // π = π_ref at step 1
  // Running again into the same folder must not overwrite the user's metrics.
  auto again = run("train --steps 1 --out " + dir.string());
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.output.find("already holds a run"), std::string::npos) << again.output;
  fs::remove_all(dir);
}

TEST(Cli, BadDataIsOneLineWithFileAndLine) {
  auto dir = fresh_dir("bad");
  fs::create_directories(dir);
  auto data = dir / "bad.jsonl";
  std::ofstream(data)
      << "{\"prompt\":\"a\",\"chosen\":\"b\",\"rejected\":\"c\"}\n{\"prompt\":\"a\",\"chosen\":\"b\"}\n";
  auto r = run("train --steps 1 --data " + data.string() + " --out " + (dir / "run").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.output, "error: " + data.string() + ":2: missing field \"rejected\"\n");
  EXPECT_FALSE(fs::exists(dir / "run"));
  fs::remove_all(dir);
}

TEST(Cli, TrainedModelInspectsGeneratesTokenizesAndExports) {
  auto dir = fresh_dir("model");
  ASSERT_EQ(run("--threads 2 train --steps 2 --quiet --out " + dir.string()).code, 0);
  const auto model = (dir / "final").string();

  auto inspect = run("inspect-model --json " + model);
  ASSERT_EQ(inspect.code, 0) << inspect.output;
  auto info = nlohmann::json::parse(inspect.output);
  EXPECT_EQ(info["architecture"], "LlamaForCausalLM");
  EXPECT_EQ(info["parameters"], 118080);  // LlamaConfig::tiny(400): 400·64 + 2·(layer) + 64, tied
  EXPECT_EQ(info["tokenizer"], "sentencepiece");

  // The SFT'd demo model writes a story ending of 5+ tokens; a bare question would end at EOS.
  auto gen = run("generate --json --max-new-tokens 5 --model " + model +
                 " --prompt 'Story: the boy met a new friend. In the end, the boy'");
  ASSERT_EQ(gen.code, 0) << gen.output;
  auto g = nlohmann::json::parse(gen.output);
  EXPECT_EQ(g["ids"].size(), 5u);
  EXPECT_EQ(g["prompt_ids"][0], 1);  // BOS
  EXPECT_EQ(run("generate --json --max-new-tokens 5 --model " + model +
                " --prompt 'Story: the boy met a new friend. In the end, the boy'")
                .output,
            gen.output);  // greedy is deterministic

  auto tok = run_with_input("tokenize --json --model " + model, "Story: the boy");
  ASSERT_EQ(tok.code, 0) << tok.output;
  auto ids = nlohmann::json::parse(tok.output)["ids"];
  EXPECT_EQ(ids[0], 1);
  std::string id_text;
  for (size_t i = 1; i < ids.size(); ++i) id_text += std::to_string(ids[i].get<int>()) + " ";
  EXPECT_EQ(run_with_input("tokenize --decode --model " + model, id_text).output, "Story: the boy\n");

  auto exported = run("export --dtype bfloat16 --from " + dir.string() + " --to " + (dir / "bf16").string());
  ASSERT_EQ(exported.code, 0) << exported.output;
  auto bf16 = nlohmann::json::parse(run("inspect-model --json " + (dir / "bf16").string()).output);
  EXPECT_EQ(bf16["stored_dtypes"]["BF16"], 20);
  EXPECT_EQ(run("export --from " + dir.string() + " --to " + (dir / "bf16").string()).code,
            1);  // no overwrite
  fs::remove_all(dir);
}
