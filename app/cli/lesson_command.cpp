#include "app/cli/lesson_command.h"

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "app/cli/flag_checks.h"
#include "app/session/lesson_run.h"
#include "app/session/run_setup.h"
#include "core/data/tokenize.h"
#include "core/demo/sampled_reward.h"
#include "core/eval/preference_eval.h"
#include "core/io/atomic_file.h"
#include "core/io/text_file.h"
#include "core/lessons/lesson.h"
#include "core/runtime/error.h"
#include "core/train/losses.h"
#include "core/train/reference_logps.h"
#include "core/train/trainer.h"
#include "resources/demo_assets.h"

namespace dpo::cli {

namespace fs = std::filesystem;

namespace {

struct LessonArgs {
  std::string name;
  std::string out_dir;
  bool json = false;
  bool short_run = false;
};

LessonArgs& args() {
  static LessonArgs a;
  return a;
}
CLI::App*& list_command() {
  static CLI::App* c = nullptr;
  return c;
}
CLI::App*& run_command() {
  static CLI::App* c = nullptr;
  return c;
}

std::vector<Lesson> embedded_lessons() {
  std::vector<Lesson> lessons;
  for (const auto& f : resources::lesson_files()) {
    std::string name(f.name);
    name = name.substr(0, name.rfind('.'));
    lessons.push_back(parse_lesson(f.bytes, "resources/lessons/" + std::string(f.name), name));
  }
  std::stable_sort(lessons.begin(), lessons.end(),
                   [](const Lesson& a, const Lesson& b) { return a.number < b.number; });
  return lessons;
}

// NAME from resources/lessons, or a lesson file a teacher wrote.
Lesson find_lesson(const std::string& name) {
  if (name.ends_with(".json") || fs::exists(name)) {
    return parse_lesson(read_text(name), name, fs::path(name).stem().string());
  }
  std::string known;
  for (auto& lesson : embedded_lessons()) {
    if (lesson.name == name || std::to_string(lesson.number) == name) return lesson;
    known += (known.empty() ? "" : ", ") + lesson.name;
  }
  throw ConfigError("lesson \"" + name + "\": not found (lessons: " + known + ")");
}

struct RunResult {
  std::map<std::string, double> values;  // "<kind>.<metric>"
};

RunResult run_one(const LessonRun& run, int64_t steps, const fs::path& dir, bool quiet) {
  fs::create_directories(dir);
  auto setup = app::prepare_run(app::lesson_run_options(run, steps));
  app::LessonProbe probe(setup);
  std::ofstream metrics(dir / "metrics.jsonl");
  train(*setup.trainer, [&](const StepMetrics& m) {
    probe.record(m);
    metrics << nlohmann::json(m).dump() << "\n";
    if (!quiet && (m.step % 20 == 0 || m.step == steps))
      std::fprintf(stderr, "  %s step %lld/%lld  loss %.4f  margin %+.4f\n", run.label.c_str(),
                   static_cast<long long>(m.step), static_cast<long long>(steps), m.loss, m.rewards_margins);
    return true;
  });
  RunResult result{probe.finish(run.label, run.beta)};
  nlohmann::json samples = nlohmann::json::array();
  const auto& before = probe.before();
  const auto& after = probe.after();
  for (size_t i = 0; i < after.answers.size(); ++i)
    samples.push_back({{"prompt", after.answers[i].prompt},
                       {"before", before.answers[i].answer},
                       {"before_reward", before.answers[i].reward},
                       {"after", after.answers[i].answer},
                       {"after_reward", after.answers[i].reward}});
  write_file_atomically(dir / "samples.json", samples.dump(2) + "\n");
  return result;
}

int run_lesson(const LessonArgs& a) {
  const auto lesson = find_lesson(a.name);
  const fs::path out = a.out_dir.empty() ? fs::path("runs") / ("lesson-" + lesson.name) : fs::path(a.out_dir);
  const auto start = std::chrono::steady_clock::now();
  if (!a.json) {
    std::cout << "Lesson " << lesson.number << ": " << lesson.title << "\n\nQuestion: " << lesson.question
              << "\n\n";
    for (const auto& r : lesson.runs)
      std::cout << "  run "
                << app::describe_lesson_run(r,
                                            a.short_run && lesson.short_steps ? *lesson.short_steps : r.steps)
                << "\n";
    std::cout << "  plots: ";
    for (size_t i = 0; i < lesson.plots.size(); ++i) std::cout << (i ? ", " : "") << lesson.plots[i];
    std::cout << "\n  symptom: " << lesson.symptom << "\n" << std::flush;
  }
  std::map<std::string, double> values;
  nlohmann::json runs = nlohmann::json::object();
  for (const auto& r : lesson.runs) {
    const int64_t steps = a.short_run && lesson.short_steps ? *lesson.short_steps : r.steps;
    auto result = run_one(r, steps, out / r.label, a.json);
    for (const auto& [key, v] : result.values) values[r.label + "." + key] = v;
    runs[r.label] = {{"settings", app::describe_lesson_run(r, steps)}, {"dir", (out / r.label).string()}};
  }
  const auto check = evaluate_check(lesson.check, values, lesson.name);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Only the values the check reads, plus the sampled true reward a teacher will want to see.
  std::map<std::string, double> shown;
  for (const auto& n : check_value_names(lesson.check, lesson.name)) shown[n] = values.at(n);
  for (const auto& r : lesson.runs)
    for (const char* k :
         {"sampled.reward_before", "sampled.reward_after", "final.rewards/margins", "final.loss"})
      shown[r.label + "." + k] = values.at(r.label + "." + k);
  if (a.json) {
    nlohmann::json clauses = nlohmann::json::array();
    for (const auto& c : check.clauses)
      clauses.push_back({{"clause", c.text},
                         {"measured", c.measured},
                         {"left", c.left},
                         {"right", c.right},
                         {"passed", c.passed}});
    nlohmann::json j{{"lesson", lesson.name},
                     {"number", lesson.number},
                     {"title", lesson.title},
                     {"passed", check.passed},
                     {"check", lesson.check},
                     {"clauses", clauses},
                     {"values", values},
                     {"runs", runs},
                     {"short", a.short_run},
                     {"seconds", seconds},
                     {"explanation", lesson.explanation},
                     {"seed_section", lesson.seed_section}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "\nmeasured:\n";
    for (const auto& [k, v] : shown) std::printf("  %-40s %.4f\n", k.c_str(), v);
    std::cout << "\n" << (check.passed ? "PASS" : "FAIL") << ": " << lesson.symptom << "\n";
    for (const auto& c : check.clauses)
      std::cout << "  [" << (c.passed ? "ok" : "no") << "] " << c.measured << "\n";
    std::printf("(%.1f s; runs in %s)\n", seconds, out.string().c_str());
    std::cout << "\nReveal: " << lesson.explanation << "\n(seed " << lesson.seed_section << ")\n";
  }
  return check.passed ? 0 : kExitCheckFailed;
}

int list_lessons(bool json) {
  const auto lessons = embedded_lessons();
  if (json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& l : lessons)
      j.push_back({{"name", l.name}, {"number", l.number}, {"title", l.title}, {"question", l.question}});
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  for (const auto& l : lessons) std::printf("%2d  %-22s %s\n", l.number, l.name.c_str(), l.title.c_str());
  return 0;
}

}  // namespace

void add_lesson_command(CLI::App& cli) {
  auto* lesson = cli.add_subcommand("lesson", "classroom lessons: predict, run, check the symptom, reveal");
  lesson->require_subcommand(1);
  auto& a = args();
  list_command() = lesson->add_subcommand("list", "the lessons of resources/lessons");
  list_command()->add_flag("--json", a.json, "as JSON");
  run_command() = lesson->add_subcommand(
      "run", "run a lesson headless and check its symptom (exit 3 when it does not show)");
  run_command()->add_option("name", a.name, "lesson name, number, or a lesson .json file")->required();
  run_command()->add_flag("--json", a.json, "print the result as JSON");
  run_command()->add_flag("--short", a.short_run, "the lesson's short setting (fewer steps, for CI)");
  run_command()->add_option("--out", a.out_dir,
                            "folder for the runs' metrics and samples (default: runs/lesson-NAME)");
}

bool lesson_command_chosen() {
  return (list_command() && list_command()->parsed()) || (run_command() && run_command()->parsed());
}

int run_lesson_command() {
  if (list_command()->parsed()) return list_lessons(args().json);
  return run_lesson(args());
}

}  // namespace dpo::cli
