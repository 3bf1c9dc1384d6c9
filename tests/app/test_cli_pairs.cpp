// dpo pairs end to end on the demo model (issue 14): sample, score with the demo's true reward,
// pair, and train on the result.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>

#include "cli_runner.h"
#include "run_files.h"

namespace fs = std::filesystem;

namespace {

const fs::path& dir() {
  static const fs::path d = fresh_dir("cli_pairs", "work");
  return d;
}

std::string cache() { return " --cache-dir " + (dir() / "cache").string(); }

// Six demo prompts, two of each task.
fs::path prompts_file() {
  const auto path = dir() / "prompts.jsonl";
  if (!fs::exists(path))
    dpo::testing_files::write_file(path,
                                   R"({"prompt": "Question: what is 7 + 7?\nAnswer:"}
{"prompt": "User: can you carry this box?\nAssistant:"}
{"prompt": "Story: the little dog lost the way home. In the end, the little dog"}
{"prompt": "Question: what is 8 + 8?\nAnswer:"}
{"prompt": "User: can you lend me a pen?\nAssistant:"}
{"prompt": "Story: the tired farmer lost the way home. In the end, the tired farmer"}
)");
  return path;
}

std::string pairs_args(const fs::path& out) {
  return "--threads 2 pairs --quiet --k 4 --scorer true --max-new-tokens 16 --seed 3 --prompts " +
         prompts_file().string() + " --out " + out.string() + cache();
}

}  // namespace

TEST(CliPairs, WritesADatasetTrainReadsWithProvenance) {
  const auto out = dir() / "pairs.jsonl";
  auto r = run(pairs_args(out));
  ASSERT_EQ(r.code, 0) << r.output;
  const auto rows = records(out);
  ASSERT_FALSE(rows.empty()) << r.output;
  EXPECT_NE(r.output.find("pairs: " + std::to_string(rows.size()) + " written to " + out.string() +
                          " from 6 prompts"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("length bias: the chosen answer is the longer in "), std::string::npos) << r.output;
  std::set<std::string> prompts;
  for (const auto& row : rows) {
    ASSERT_TRUE(row.contains("provenance")) << row.dump();
    const auto& p = row["provenance"];
    EXPECT_EQ(p["model"], "demo model (SFT on the demo world)");
    EXPECT_EQ(p["scorer"], "true:1");
    EXPECT_EQ(p["strategy"], "best-vs-worst");
    EXPECT_EQ(p["min_margin"], 0.0);
    EXPECT_EQ(p["sampling"]["k"], 4);
    EXPECT_EQ(p["sampling"]["temperature"], 1.0);
    EXPECT_EQ(p["sampling"]["top_p"], 1.0);
    EXPECT_EQ(p["sampling"]["seed"], 3);
    EXPECT_EQ(p["sampling"]["max_new_tokens"], 16);
    ASSERT_EQ(p["scores"].size(), 4u);
    ASSERT_EQ(p["lengths"].size(), 4u);
    EXPECT_EQ(p["term_scores"]["true"], p["scores"]);  // one term of weight 1
    const size_t c = p["chosen_index"], j = p["rejected_index"];
    EXPECT_EQ(row["score_chosen"], p["scores"][c]);
    EXPECT_EQ(row["score_rejected"], p["scores"][j]);
    // best-vs-worst without ties: the best and the worst of the four, strictly ordered.
    double best = p["scores"].front(), worst = p["scores"].front();
    for (const auto& s : p["scores"]) {
      best = std::max(best, s.get<double>());
      worst = std::min(worst, s.get<double>());
    }
    EXPECT_EQ(row["score_chosen"].get<double>(), best);
    EXPECT_EQ(row["score_rejected"].get<double>(), worst);
    EXPECT_GT(best, worst);
    // The true reward is in [0, 1].
    EXPECT_GE(worst, 0.0);
    EXPECT_LE(best, 1.0);
    EXPECT_NE(row["chosen"], row["rejected"]);
    EXPECT_TRUE(prompts.insert(row["prompt"].get<std::string>()).second) << "one pair per prompt";
  }

  r = run("--threads 2 train --data " + out.string() + " --steps 2 --eval-every 0 --quiet --out " +
          (dir() / "run").string() + cache());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::is_directory(dir() / "run" / "final")) << r.output;

  // The same run again refuses to overwrite and leaves the file as it was.
  const auto before = bytes_of(out);
  r = run(pairs_args(out));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("error: --out " + out.string() + ": exists; pass --overwrite to replace it"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(bytes_of(out), before);

  // With --overwrite and every pair above the margin, the same samples give at least those pairs.
  r = run(pairs_args(out) + " --overwrite --strategy all-above-margin");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto all = records(out);
  EXPECT_GE(all.size(), rows.size());
  for (const auto& row : all) EXPECT_EQ(row["provenance"]["strategy"], "all-above-margin");
}

TEST(CliPairs, AFailingScorerCommandNamesTheRowAndWritesNothing) {
  const auto out = dir() / "failed.jsonl";
  const auto r =
      run("--threads 2 pairs --quiet --k 2 --max-new-tokens 4 --scorer cmd --scorer-cmd "
          "\"/bin/sh -c 'exit 3'\" --prompts " +
          prompts_file().string() + " --out " + out.string() + cache());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("error: scorer cmd '/bin/sh': prompt 1, answer 1: exited with status 3"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(out));
}

// The model scorers: logprob is a mean log-probability (≤ 0); implicit against the sampling model itself
// is β·(log π − log π) = 0 for every answer, so every prompt's scores tie and nothing is written.
TEST(CliPairs, ModelScorersScoreWithTheModel) {
  const auto out = dir() / "logprob.jsonl";
  auto r = run("--threads 2 pairs --quiet --k 3 --scorer logprob --max-new-tokens 8 --seed 5 --prompts " +
               prompts_file().string() + " --out " + out.string() + cache());
  ASSERT_EQ(r.code, 0) << r.output;
  const auto rows = records(out);
  ASSERT_FALSE(rows.empty());
  for (const auto& row : rows) {
    for (const auto& s : row["provenance"]["term_scores"]["logprob"]) EXPECT_LE(s.get<double>(), 0.0) << row;
    EXPECT_GT(row["score_chosen"].get<double>(), row["score_rejected"].get<double>()) << row;
    EXPECT_EQ(row["provenance"]["scorer"], "logprob:1");
  }
  fs::path demo_model;
  for (const auto& entry : fs::directory_iterator(dir() / "cache"))
    if (entry.path().filename().string().rfind("demo-model-", 0) == 0) demo_model = entry.path();
  ASSERT_FALSE(demo_model.empty());
  const auto none = dir() / "implicit.jsonl";
  r = run("--threads 2 pairs --quiet --k 3 --scorer implicit --reference " + demo_model.string() +
          " --max-new-tokens 8 --prompts " + prompts_file().string() + " --out " + none.string() + cache());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("all scores tied 6"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(none));
}
