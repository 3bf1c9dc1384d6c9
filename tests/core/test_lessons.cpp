// The lesson file format and its check language (core/lessons/lesson.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/lessons/lesson.h"
#include "core/runtime/error.h"
#include "resources/demo_assets.h"

namespace {

std::string message_of(const std::string& text) {
  try {
    dpo::parse_lesson(text, "bad.json", "bad");
  } catch (const dpo::ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

const char* kMinimal =
    R"({"title": "t", "question": "q", "symptom": "s", "explanation": "e", "seed_section": "002 §6",
  "runs": [{"label": "a", "beta": 0.5, "steps": 7}], "check": "a.final.loss < 0.5"})";

}  // namespace

TEST(Lesson, ParsesDefaultsAndOverrides) {
  const auto lesson = dpo::parse_lesson(kMinimal, "min.json", "min");
  ASSERT_EQ(lesson.runs.size(), 1u);
  EXPECT_EQ(lesson.runs[0].label, "a");
  EXPECT_EQ(lesson.runs[0].beta, 0.5);
  EXPECT_EQ(lesson.runs[0].steps, 7);
  EXPECT_EQ(lesson.runs[0].loss, "sigmoid");
  EXPECT_EQ(lesson.runs[0].dataset, "clean");
  EXPECT_FALSE(lesson.short_steps);
}

TEST(Lesson, BadFieldsNameFileAndField) {
  std::string text = kMinimal;
  EXPECT_EQ(message_of(R"({"title": "t"})"), "bad.json: field question: missing");
  auto replace = [&](const std::string& from, const std::string& to) {
    auto copy = text;
    copy.replace(copy.find(from), from.size(), to);
    return message_of(copy);
  };
  EXPECT_EQ(replace("\"beta\": 0.5", "\"beta\": \"high\""), "bad.json: field runs[0].beta: must be a number");
  EXPECT_EQ(replace("\"beta\": 0.5", "\"loss\": \"nope\""),
            "bad.json: field runs[0].loss: unknown loss \"nope\" (see dpo loss --list)");
  EXPECT_EQ(replace("\"beta\": 0.5", "\"dataset\": \"unpaired\""),
            "bad.json: field runs[0].dataset: \"unpaired\" is not a pairwise demo dataset (clean, noisy, "
            "length-biased, scored)");
  EXPECT_EQ(replace("a.final.loss", "b.final.loss"),
            "bad.json: field check: \"b.final.loss\" names no run of this lesson");
  EXPECT_EQ(
      replace("a.final.loss", "a.last.loss"),
      "bad.json: field check: \"a.last.loss\": kind must be first, mid, final, min, max, heldout or sampled");
  EXPECT_EQ(replace("< 0.5", "0.5"),
            "bad.json: field check: expected <, <=, > or >= after \"a.final.loss\" in \"a.final.loss 0.5\"");
  EXPECT_EQ(replace("\"title\"", "\"titel\""),
            "bad.json: field titel: unknown (see resources/lessons/README.md)");
  EXPECT_EQ(message_of("{").rfind("bad.json: not valid JSON", 0), 0u);
}

TEST(Lesson, CheckEvaluatesArithmeticAndReportsValues) {
  const std::map<std::string, double> values = {
      {"a.final.rewards/margins", 0.03}, {"a.final.loss", 0.69}, {"b.final.rewards/margins", 2.5}};
  // 0.03 < 0.05 holds; 0.69 > 0.65 holds; 2.5 > 2·0.03 + 1 = 1.06 holds; |−0.03| < 0.01 does not.
  auto r = dpo::evaluate_check("a.final.rewards/margins < 0.05 and a.final.loss > 0.65", values, "t");
  EXPECT_TRUE(r.passed);
  ASSERT_EQ(r.clauses.size(), 2u);
  EXPECT_EQ(r.clauses[0].measured, "a.final.rewards/margins = 0.03 < 0.05");
  EXPECT_EQ(r.clauses[1].measured, "a.final.loss = 0.69 > 0.65");
  r = dpo::evaluate_check("b.final.rewards/margins > 2 * a.final.rewards/margins + 1", values, "t");
  EXPECT_TRUE(r.passed);
  EXPECT_DOUBLE_EQ(r.clauses[0].right, 2 * 0.03 + 1);
  EXPECT_EQ(r.clauses[0].measured, "b.final.rewards/margins = 2.5 > 1.06 (2 * a.final.rewards/margins + 1)");
  r = dpo::evaluate_check("abs(0 - a.final.rewards/margins) < 0.01", values, "t");
  EXPECT_FALSE(r.passed);
  EXPECT_DOUBLE_EQ(r.clauses[0].left, 0.03);
  r = dpo::evaluate_check("b.final.rewards/margins / (a.final.rewards/margins * 10) >= 8.3", values, "t");
  EXPECT_DOUBLE_EQ(r.clauses[0].left, 2.5 / 0.3);
  EXPECT_TRUE(r.passed);
  EXPECT_THROW(dpo::evaluate_check("c.final.loss < 1", values, "t"), dpo::ConfigError);
}

TEST(Lesson, ShippedLessonsParse) {
  // The seven lessons of issue 8, numbered 1..7, each with a short setting for CI.
  ASSERT_EQ(dpo::resources::lesson_files().size(), 7u);
  std::vector<int> numbers;
  for (const auto& f : dpo::resources::lesson_files()) {
    const auto lesson = dpo::parse_lesson(f.bytes, std::string(f.name), std::string(f.name));
    numbers.push_back(lesson.number);
    EXPECT_TRUE(lesson.short_steps) << f.name;
    EXPECT_FALSE(lesson.plots.empty()) << f.name;
  }
  std::sort(numbers.begin(), numbers.end());
  EXPECT_EQ(numbers, (std::vector<int>{1, 2, 3, 4, 5, 6, 7}));
}
