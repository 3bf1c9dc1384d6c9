// app::RunDirectory / app::load_run: a run written by `dpo train` reads back as the same records.
#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "app/session/run_directory.h"
#include "cli_runner.h"
#include "core/runtime/error.h"

namespace fs = std::filesystem;

namespace {
fs::path fresh_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("dpo_run_directory_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  return dir;
}

std::vector<std::string> lines_of(const fs::path& path) {
  std::vector<std::string> rows;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) rows.push_back(line);
  return rows;
}

void write_lines(const fs::path& path, const std::vector<std::string>& lines, bool final_newline = true) {
  std::ofstream out(path, std::ios::trunc);
  for (size_t i = 0; i < lines.size(); ++i)
    out << lines[i] << (i + 1 < lines.size() || final_newline ? "\n" : "");
}

// One CLI run shared by the tests below (a few demo steps); removed when the tests end.
fs::path g_cli_dir;
const fs::path& cli_run() {
  static const fs::path dir = [] {
    auto d = fresh_dir("cli");
    g_cli_dir = d;
    auto r =
        run("--threads 2 train --steps 4 --eval-every 2 --checkpoint-every 2 --beta 0.2 --quiet --no-cache "
            "--out " +
            d.string());
    EXPECT_EQ(r.code, 0) << r.output;
    return d;
  }();
  return dir;
}

std::string error_of(const fs::path& dir) {
  try {
    dpo::app::load_run(dir);
  } catch (const dpo::ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(RunDirectory, LoadRunEqualsTheCliRecords) {
  const auto& dir = cli_run();
  const auto run = dpo::app::load_run(dir);
  EXPECT_DOUBLE_EQ(run.options.trainer.loss.beta, 0.2);
  EXPECT_EQ(run.options.trainer.max_steps, 4);
  EXPECT_EQ(run.config["checkpoint_every"], 2);

  const auto metrics = lines_of(dir / "metrics.jsonl");
  ASSERT_EQ(run.metrics.size(), metrics.size());
  ASSERT_EQ(metrics.size(), 4u);
  for (size_t i = 0; i < metrics.size(); ++i) {
    const auto j = nlohmann::json::parse(metrics[i]);
    const auto& m = run.metrics[i];
    EXPECT_EQ(m.step, j["step"].get<int64_t>());
    EXPECT_EQ(m.loss, j["loss"].get<double>());
    EXPECT_EQ(m.rewards_margins, j["rewards/margins"].get<double>());
    EXPECT_EQ(m.rewards_accuracies, j["rewards/accuracies"].get<double>());
    EXPECT_EQ(m.rewards_chosen, j["rewards/chosen"].get<double>());
    EXPECT_EQ(m.grad_norm, j["grad_norm"].get<double>());
    EXPECT_EQ(m.beta, j["beta"].get<double>());
    // And back: the struct writes the same line.
    EXPECT_EQ(nlohmann::json(m), j) << "line " << i + 1;
  }

  const auto evals = lines_of(dir / "eval.jsonl");
  ASSERT_EQ(run.evals.size(), evals.size());
  const auto eval_pairs = run.config["eval_pairs"].get<size_t>();
  for (size_t i = 0; i < evals.size(); ++i) {
    const auto j = nlohmann::json::parse(evals[i]);
    EXPECT_EQ(run.evals[i].step, j["step"].get<int64_t>());
    EXPECT_EQ(run.evals[i].mean_margin, j["eval_rewards/margins"].get<double>());
    EXPECT_EQ(run.evals[i].pairs.size(), eval_pairs);
    for (const auto& p : run.evals[i].pairs) EXPECT_EQ(p.step, run.evals[i].step);
  }
  EXPECT_EQ(lines_of(dir / "pairs.jsonl").size(), evals.size() * eval_pairs);
  ASSERT_EQ(run.checkpoints.size(), 2u);  // steps 2 and 4: the last step gets one too
  EXPECT_EQ(dpo::checkpoint_step(run.checkpoints[0]), 2);
  EXPECT_EQ(dpo::checkpoint_step(run.checkpoints[1]), 4);

  const auto brief = dpo::app::brief_run(dir);
  EXPECT_TRUE(brief.error.empty()) << brief.error;
  EXPECT_EQ(brief.steps_done, 4);
  EXPECT_EQ(brief.max_steps, 4);
  ASSERT_TRUE(brief.last.has_value());
  EXPECT_EQ(brief.last->loss, run.metrics.back().loss);
  ASSERT_TRUE(brief.checkpoint.has_value());
}

TEST(RunDirectory, CorruptedLineNamesFileAndLine) {
  const auto dir = fresh_dir("corrupt");
  fs::create_directories(dir);
  fs::copy_file(cli_run() / "config.json", dir / "config.json");
  auto metrics = lines_of(cli_run() / "metrics.jsonl");
  metrics[2] = metrics[2].substr(0, metrics[2].size() / 2) + "#";
  write_lines(dir / "metrics.jsonl", metrics);
  const auto message = error_of(dir);
  EXPECT_NE(message.find("metrics.jsonl:3: "), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;

  // A record missing a field it needs names the field.
  metrics = lines_of(cli_run() / "metrics.jsonl");
  auto j = nlohmann::json::parse(metrics[1]);
  j.erase("loss");
  metrics[1] = j.dump();
  write_lines(dir / "metrics.jsonl", metrics);
  const auto missing = error_of(dir);
  EXPECT_NE(missing.find("metrics.jsonl:2: "), std::string::npos) << missing;
  EXPECT_NE(missing.find("loss"), std::string::npos) << missing;

  // A torn last line (a run being written, or killed mid-line) is not an error.
  metrics = lines_of(cli_run() / "metrics.jsonl");
  metrics.back() = metrics.back().substr(0, 20);
  write_lines(dir / "metrics.jsonl", metrics, /*final_newline=*/false);
  EXPECT_EQ(error_of(dir), "");
  EXPECT_EQ(dpo::app::load_run(dir).metrics.size(), 3u);
  fs::remove_all(dir);
}

TEST(RunDirectory, WriterRoundTripAndTruncate) {
  const auto dir = fresh_dir("writer");
  {
    auto out = dpo::app::RunDirectory::create(dir, false);
    dpo::app::RunDirectoryConfig config;
    config.run.trainer.loss.beta = 0.5;
    config.extra = {{"source", "test"}};
    out.write_config(config);
    out.open_records();
    for (int64_t s = 1; s <= 5; ++s) {
      dpo::StepMetrics m;
      m.step = s;
      m.loss = s == 3 ? std::nan("") : 0.7 - 0.01 * static_cast<double>(s);
      out.append_metrics(m);
    }
    out.append_event({.step = 2, .kind = "beta", .message = "beta 0.5 -> 0.3", .pair_lines = {}}, 0.3);
    dpo::PreferenceEval e;
    e.step = 4;
    e.pairs.push_back({.step = 4, .line = 7, .margin = 0.25});
    out.append_eval(e);
  }
  EXPECT_THROW(dpo::app::RunDirectory::create(dir, false), dpo::ConfigError);
  auto run = dpo::app::load_run(dir);
  EXPECT_EQ(run.config["source"], "test");
  EXPECT_DOUBLE_EQ(run.options.trainer.loss.beta, 0.5);
  ASSERT_EQ(run.metrics.size(), 5u);
  EXPECT_TRUE(std::isnan(run.metrics[2].loss));  // written as null
  ASSERT_EQ(run.events.size(), 1u);
  EXPECT_EQ(run.events[0].event.kind, "beta");
  EXPECT_DOUBLE_EQ(run.events[0].value, 0.3);
  ASSERT_EQ(run.evals.size(), 1u);
  ASSERT_EQ(run.evals[0].pairs.size(), 1u);
  EXPECT_EQ(run.evals[0].pairs[0].line, 7u);

  // No checkpoint: a resume starts again from step 0.
  const auto resumed = dpo::app::RunDirectory::resume(dir);
  EXPECT_FALSE(resumed.resuming());
  EXPECT_EQ(resumed.resume_step(), 0);
  auto again = dpo::app::RunDirectory::create(dir, true);
  again.write_config({});
  again.truncate_records(3);
  run = dpo::app::load_run(dir);
  EXPECT_TRUE(run.metrics.empty());  // overwrite removed the old records
  fs::remove_all(dir);
}

TEST(RunDirectory, NewRunDirNamesLossAndBeta) {
  const auto root = fresh_dir("root");
  const auto a = dpo::app::new_run_dir(root, "ipo", 0.1);
  EXPECT_EQ(a.parent_path(), root);
  const auto name = a.filename().string();
  EXPECT_EQ(name.size(), std::string("yyyyMMdd-HHmmss-ipo-b0.1").size()) << name;
  EXPECT_NE(name.find("-ipo-b0.1"), std::string::npos) << name;
  fs::create_directories(a);
  const auto b = dpo::app::new_run_dir(root, "ipo", 0.1);
  EXPECT_NE(a, b);
  fs::create_directories(b);
  std::ofstream(a / "config.json") << "{}";
  std::ofstream(b / "config.json") << "{}";
  EXPECT_EQ(dpo::app::list_run_dirs(root).size(), 2u);
  fs::remove_all(root);
}

class RemoveCliRun : public ::testing::Environment {
 public:
  void TearDown() override {
    if (!g_cli_dir.empty()) fs::remove_all(g_cli_dir);
  }
};
[[maybe_unused]] const auto* const kRemoveCliRun = ::testing::AddGlobalTestEnvironment(new RemoveCliRun);
