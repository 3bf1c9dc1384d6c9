// `dpo lesson`: every shipped lesson, in its short setting, shows the symptom it teaches.
#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "cli_runner.h"

namespace fs = std::filesystem;

namespace {

const char* kLessons[] = {"first-run",    "beta-too-high",  "beta-too-low",     "length-exploitation",
                          "noisy-labels", "overconfidence", "reference-matters"};

fs::path fresh_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("dpo_cli_lesson_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  return dir;
}

}  // namespace

TEST(CliLesson, ListsTheSevenLessons) {
  auto r = run("lesson list --json", false);
  ASSERT_EQ(r.code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  ASSERT_EQ(j.size(), 7u);
  for (size_t i = 0; i < j.size(); ++i) {
    EXPECT_EQ(j[i]["number"], static_cast<int>(i + 1));
    EXPECT_EQ(j[i]["name"], kLessons[i]);
  }
}

class LessonSymptom : public testing::TestWithParam<const char*> {};

TEST_P(LessonSymptom, ShowsInTheShortSetting) {
  const auto dir = fresh_dir(GetParam());
  auto r = run(std::string("--threads 1 lesson run ") + GetParam() + " --short --json --out " + dir.string(),
               false);
  ASSERT_TRUE(r.code == 0 || r.code == 3) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  for (const auto& c : j["clauses"])
    EXPECT_TRUE(c["passed"].get<bool>()) << GetParam() << ": " << c["measured"];
  EXPECT_TRUE(j["passed"].get<bool>()) << j.dump(2);
  EXPECT_EQ(r.code, 0);
  // Each run leaves its metrics and before/after samples for the studio.
  for (const auto& [label, run] : j["runs"].items()) {
    EXPECT_TRUE(fs::exists(dir / label / "metrics.jsonl")) << label;
    EXPECT_TRUE(fs::exists(dir / label / "samples.json")) << label;
  }
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(AllLessons, LessonSymptom, testing::ValuesIn(kLessons),
                         [](const testing::TestParamInfo<const char*>& param_info) {
                           std::string name = param_info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(CliLesson, HumanOutputHasPassLineAndReveal) {
  const auto dir = fresh_dir("human");
  auto r = run("--threads 1 lesson run 1 --short --out " + dir.string());
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("Question: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\nPASS: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Reveal: "), std::string::npos) << r.output;
  fs::remove_all(dir);
}

TEST(CliLesson, MalformedLessonFileIsOneLineNamingFileAndField) {
  const auto dir = fresh_dir("bad");
  fs::create_directories(dir);
  const auto file = dir / "mine.json";
  std::ofstream(file)
      << R"({"title": "t", "question": "q", "symptom": "s", "explanation": "e", "seed_section": "x",)"
      << R"( "runs": [{"label": "a", "steps": "many"}], "check": "a.final.loss < 1"})";
  auto r = run("lesson run " + file.string());
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.output, "error: " + file.string() + ": field runs[0].steps: must be a number\n");
  r = run("lesson run no-such-lesson");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("lesson \"no-such-lesson\": not found"), std::string::npos) << r.output;
  fs::remove_all(dir);
}
