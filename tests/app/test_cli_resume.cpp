// Run folders as transactions (issue 19): a run killed at any moment (SIGKILL during the reference
// pass, a step, a checkpoint write, or at a random time) resumes bit for bit; a finished run extends
// with --steps; setting changes on resume are applied as events or refused; --overwrite removes
// only what a run writes; a full disk while checkpointing is one line and loses nothing.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_runner.h"
#include "run_files.h"

namespace fs = std::filesystem;

namespace {
fs::path fresh_dir(const std::string& name) { return fresh_dir("cli_resume", name); }

size_t complete_lines(const fs::path& path) {
  const auto text = bytes_of(path);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

// Same weights byte for byte, same losses step by step, same evaluations.
void expect_same_run(const fs::path& a, const fs::path& b, size_t steps) {
  const auto wa = bytes_of(a / "final" / "model.safetensors");
  ASSERT_GT(wa.size(), 100000u);
  EXPECT_TRUE(wa == bytes_of(b / "final" / "model.safetensors")) << b << ": final weights differ";
  const auto ma = records(a / "metrics.jsonl"), mb = records(b / "metrics.jsonl");
  ASSERT_EQ(ma.size(), steps);
  ASSERT_EQ(mb.size(), steps);
  for (size_t i = 0; i < steps; ++i) {
    EXPECT_EQ(mb[i]["step"], i + 1);
    EXPECT_EQ(ma[i]["loss"], mb[i]["loss"]) << "step " << i + 1;
    EXPECT_EQ(ma[i]["grad_norm"], mb[i]["grad_norm"]) << "step " << i + 1;
  }
  const auto ea = records(a / "eval.jsonl"), eb = records(b / "eval.jsonl");
  ASSERT_EQ(ea.size(), eb.size());
  for (size_t i = 0; i < ea.size(); ++i) {
    EXPECT_EQ(ea[i]["step"], eb[i]["step"]);
    EXPECT_EQ(ea[i]["eval_rewards/margins"], eb[i]["eval_rewards/margins"]) << "eval " << i;
  }
}

// Every file under `dir`, by relative path, with its bytes.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    files[fs::relative(e.path(), dir).string()] = e.is_regular_file() ? bytes_of(e.path()) : "dir";
  return files;
}

const std::string kRun =
    "--threads 2 train --steps 9 --checkpoint-every 3 --eval-every 3 --schedule cosine --warmup 2 "
    "--grad-accum 2 --batch 4 --quiet";

std::string out_and_cache(const fs::path& run) {
  return " --out " + run.string() + " --cache-dir " + (run.string() + "-cache");
}

const fs::path& straight_run() {
  static const fs::path dir = [] {
    const auto d = fresh_dir("straight") / "run";
    const auto r = ::run(kRun + out_and_cache(d));
    if (r.code != 0) throw std::runtime_error("straight run failed: " + r.output);
    return d;
  }();
  return dir;
}
}  // namespace

// SIGKILL at a chosen point (core/runtime/fault.h), then --resume: the same run as never stopped.
class KilledRun : public testing::TestWithParam<std::string> {};

TEST_P(KilledRun, ResumesBitExact) {
  const auto straight = straight_run();
  std::string name = GetParam();
  std::replace(name.begin(), name.end(), ':', '_');
  const auto dir = fresh_dir("kill_" + name) / "run";
  setenv("DPO_FAULT", GetParam().c_str(), 1);
  const auto killed = run(kRun + out_and_cache(dir));
  unsetenv("DPO_FAULT");
  EXPECT_EQ(killed.code, 128 + SIGKILL) << "not killed: " << killed.output;  // as the shell reports it
  EXPECT_FALSE(fs::exists(dir / "final"));
  const auto resumed = run("--threads 2 train --quiet --resume " + dir.string());
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  expect_same_run(straight, dir, 9);
  for (const auto& e : fs::directory_iterator(dir / "checkpoints"))
    EXPECT_NE(e.path().filename().string().rfind(".partial-", 0), 0u) << e.path();
  fs::remove_all(dir.parent_path());
}

INSTANTIATE_TEST_SUITE_P(FaultPoints, KilledRun,
                         testing::Values("reference:1",  // before any checkpoint: starts again from 0
                                         "step:5",       // mid-step, after the checkpoint of step 3
                                         "checkpoint:6"  // checkpoint 6 written but not renamed
                                         ),
                         [](const auto& p) {
                           auto n = p.param;
                           return n.substr(0, n.find(':'));
                         });

// kill -9 from outside once a few steps are on record, wherever the run is then.
TEST(CliResume, KillNineAtAnyMomentResumesBitExact) {
  const auto straight = straight_run();
  const auto dir = fresh_dir("kill9") / "run";
  const std::string command = std::string(DPO_CLI) + " " + kRun + out_and_cache(dir) + " >/dev/null 2>&1";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  while (complete_lines(dir / "metrics.jsonl") < 4 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  const auto done = complete_lines(dir / "metrics.jsonl");
  EXPECT_GE(done, 4u);
  if (done == 9 && fs::exists(dir / "final")) GTEST_SKIP() << "the run finished before the kill";
  const auto resumed = run("--threads 2 train --quiet --resume " + dir.string());
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  expect_same_run(straight, dir, 9);
  fs::remove_all(dir.parent_path());
}

// The last step gets its checkpoint, so a finished run goes on with --steps, as if it had been
// asked for the longer run from the start (constant schedule).
TEST(CliResume, FinishedRunExtendsWithSteps) {
  const auto dir = fresh_dir("extend");
  const std::string common = "--threads 2 train --checkpoint-every 2 --eval-every 2 --batch 4 --quiet";
  ASSERT_EQ(run(common + " --steps 6" + out_and_cache(dir / "six")).code, 0);
  ASSERT_EQ(run(common + " --steps 4" + out_and_cache(dir / "four")).code, 0);
  ASSERT_TRUE(fs::exists(dir / "four" / "checkpoints" / "step-000004" / "trainer_state.json"));

  const auto before = snapshot(dir / "four");
  const auto again = run("--threads 2 train --resume " + (dir / "four").string());
  EXPECT_EQ(again.code, 0) << again.output;
  EXPECT_NE(again.output.find("already at step 4 of 4; nothing to do"), std::string::npos) << again.output;
  EXPECT_EQ(snapshot(dir / "four"), before);

  const auto more = run("--threads 2 train --quiet --steps 6 --resume " + (dir / "four").string());
  ASSERT_EQ(more.code, 0) << more.output;
  EXPECT_NE(more.output.find("event: max_steps 4 -> 6 on resume at step 4"), std::string::npos)
      << more.output;
  expect_same_run(dir / "six", dir / "four", 6);
  fs::remove_all(dir);
}

// Settings that only change what the next steps do are taken, from a flag or from an edit of the
// run's config.json, and logged as events; the others are refused before anything changes.
TEST(CliResume, SettingChangesAreAppliedAsEventsOrRefused) {
  const auto dir = fresh_dir("settings") / "run";
  ASSERT_EQ(
      run("--threads 2 train --steps 2 --checkpoint-every 2 --eval-every 2 --batch 4 --lr 1e-4 --quiet" +
          out_and_cache(dir))
          .code,
      0);
  const auto before = snapshot(dir);
  auto refused = run("--threads 2 train --resume " + dir.string() + " --steps 4 --batch 2");
  EXPECT_EQ(refused.code, 1);
  EXPECT_EQ(
      refused.output,
      "error: --resume: per_device_train_batch_size cannot change (checkpoint 4, asked 2); start a new run "
      "for that\n");
  // An edit of config.json that cannot be honoured is refused the same way.
  auto config = nlohmann::json::parse(bytes_of(dir / "config.json"));
  config["run"]["max_length"] = 512;
  { std::ofstream(dir / "config.json") << config.dump(2); }
  refused = run("--threads 2 train --resume " + dir.string() + " --steps 4");
  EXPECT_EQ(refused.code, 1);
  EXPECT_NE(refused.output.find("error: --resume: max_length cannot change (checkpoint "), std::string::npos)
      << refused.output;
  config["run"]["max_length"] = nlohmann::json::parse(before.at("config.json"))["run"]["max_length"];
  config["run"]["trainer"]["learning_rate"] = 3e-4;  // an edit the run takes
  { std::ofstream(dir / "config.json") << config.dump(2); }

  const auto resumed =
      run("--threads 2 train --quiet --resume " + dir.string() + " --steps 4 --eval-every 1");
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  const auto events = records(dir / "events.jsonl");
  ASSERT_GE(events.size(), 3u);
  bool lr = false, eval = false, steps = false;
  for (const auto& e : events) {
    lr |= e["kind"] == "learning_rate" && e["value"] == 3e-4 && e["step"] == 2;
    eval |= e["kind"] == "setting" && e["message"] == "eval_steps 2 -> 1 on resume at step 2";
    steps |= e["kind"] == "setting" && e["message"] == "max_steps 2 -> 4 on resume at step 2";
  }
  EXPECT_TRUE(lr && eval && steps) << bytes_of(dir / "events.jsonl");
  const auto metrics = records(dir / "metrics.jsonl");
  ASSERT_EQ(metrics.size(), 4u);
  EXPECT_DOUBLE_EQ(metrics[1]["learning_rate"].get<double>(), 1e-4);
  EXPECT_DOUBLE_EQ(metrics[2]["learning_rate"].get<double>(), 3e-4);
  EXPECT_EQ(records(dir / "eval.jsonl").size(), 3u);  // steps 2, 3, 4
  const auto saved = nlohmann::json::parse(bytes_of(dir / "config.json"));
  EXPECT_EQ(saved["run"]["trainer"]["eval_steps"], 1);
  EXPECT_EQ(saved["run"]["trainer"]["max_steps"], 4);
  fs::remove_all(dir.parent_path());
}

// A run killed before its first checkpoint is resumed by starting again, with its settings.
TEST(CliResume, WithoutCheckpointStartsAgainFromStepZero) {
  const auto dir = fresh_dir("nockpt") / "run";
  ASSERT_EQ(run("--threads 2 train --steps 2 --quiet" + out_and_cache(dir)).code, 0);
  const auto first = records(dir / "metrics.jsonl");
  const auto r = run("--threads 2 train --quiet --resume " + dir.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("no complete checkpoint in " + dir.string() + ": starting again from step 0"),
            std::string::npos)
      << r.output;
  const auto again = records(dir / "metrics.jsonl");
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[1]["loss"], first[1]["loss"]);
  fs::remove_all(dir.parent_path());
}

// --overwrite replaces the run and nothing of the user's: notes in the folder, in final/ and in
// checkpoints/ stay.
TEST(CliResume, OverwriteRemovesOnlyWhatARunWrites) {
  const auto dir = fresh_dir("overwrite") / "run";
  const std::string args = "--threads 2 train --steps 2 --checkpoint-every 1 --quiet" + out_and_cache(dir);
  ASSERT_EQ(run(args).code, 0);
  for (const auto& note : {dir / "notes.txt", dir / "final" / "NOTES.md", dir / "checkpoints" / "keep.txt"})
    std::ofstream(note) << "mine\n";
  const auto r = run(args + " --overwrite --seed 7");
  ASSERT_EQ(r.code, 0) << r.output;
  for (const auto& note : {dir / "notes.txt", dir / "final" / "NOTES.md", dir / "checkpoints" / "keep.txt"})
    EXPECT_EQ(bytes_of(note), "mine\n") << note;
  EXPECT_EQ(records(dir / "metrics.jsonl").size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(bytes_of(dir / "config.json"))["run"]["trainer"]["seed"], 7);
  EXPECT_TRUE(fs::exists(dir / "final" / "model.safetensors"));
  fs::remove_all(dir.parent_path());
}

// A disk that fills while a checkpoint is written (here: a file-size limit, EFBIG) ends the run with
// one line; no half checkpoint is left, the records are intact, and the run resumes.
TEST(CliResume, FullDiskDuringCheckpointIsOneLine) {
  const auto dir = fresh_dir("full") / "run";
  // The demo model is unpacked into the user's cache before the limit applies.
  ASSERT_EQ(
      run("--threads 2 train --steps 1 --quiet --no-cache --out " + (dir.parent_path() / "warm").string())
          .code,
      0);
  // 256 KB per file: records and configs fit, the model's weights (> 1 MB) do not.
  const std::string command = "sh -c \"trap '' XFSZ; ulimit -f 256; exec " + std::string(DPO_CLI) +
                              " --threads 2 train --steps 3 --checkpoint-every 2 --quiet --no-cache "
                              "--out " +
                              dir.string() + " 2>&1 >/dev/null\"";
  const auto [code, output] = shell(command);
  ASSERT_NE(code, -1) << "killed by a signal";  // shell(): -1 unless it exited
  EXPECT_EQ(code, 1) << output;
  EXPECT_EQ(output, "error: " + (dir / "checkpoints" / "step-000002").string() +
                        ": cannot write checkpoint: File too large\n");
  EXPECT_FALSE(fs::exists(dir / "checkpoints" / "step-000002"));
  if (fs::exists(dir / "checkpoints"))
    for (const auto& e : fs::directory_iterator(dir / "checkpoints"))
      ADD_FAILURE() << "left behind: " << e.path();
  EXPECT_EQ(records(dir / "metrics.jsonl").size(), 2u);
  const auto resumed = run("--threads 2 train --quiet --resume " + dir.string());
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_EQ(records(dir / "metrics.jsonl").size(), 3u);
  fs::remove_all(dir.parent_path());
}
