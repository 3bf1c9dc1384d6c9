// Every embedded lesson at its full setting (CI runs the short one), through the same session code
// as `dpo lesson run`: PASS/FAIL of its check, wall seconds against the 2-minute budget of issue 8,
// and, for lesson 1, the true reward of sampled answers before and after against the 60 s budget.
//   bench_lessons [THREADS] [NAME...]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "app/session/lesson_run.h"
#include "core/lessons/lesson.h"
#include "core/runtime/runtime.h"
#include "core/train/trainer.h"
#include "resources/demo_assets.h"

using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 0;
  dpo::configure_threads(threads > 0 ? std::optional<int>(threads) : std::nullopt);
  std::vector<std::string> only(argv + std::min(argc, 2), argv + argc);
  int failed = 0;
  std::printf("%-22s %-5s %9s %10s  %s\n", "lesson", "check", "seconds", "÷ 120 s", "values");
  for (const auto& f : dpo::resources::lesson_files()) {
    std::string name(f.name);
    name = name.substr(0, name.rfind('.'));
    if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
    const auto lesson = dpo::parse_lesson(f.bytes, std::string(f.name), name);
    const auto start = Clock::now();
    std::map<std::string, double> values;
    double first_run_seconds = 0;
    for (const auto& run : lesson.runs) {
      const auto run_start = Clock::now();
      auto setup = dpo::app::prepare_run(dpo::app::lesson_run_options(run, run.steps));
      dpo::app::LessonProbe probe(setup);
      dpo::train(*setup.trainer, [&](const dpo::StepMetrics& m) {
        probe.record(m);
        return true;
      });
      for (const auto& [k, v] : probe.finish(run.label, run.beta)) values[run.label + "." + k] = v;
      if (first_run_seconds == 0)
        first_run_seconds = std::chrono::duration<double>(Clock::now() - run_start).count();
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const auto check = dpo::evaluate_check(lesson.check, values, lesson.name);
    failed += check.passed ? 0 : 1;
    std::string shown;
    for (const auto& c : check.clauses) shown += (shown.empty() ? "" : "; ") + c.measured;
    std::printf("%-22s %-5s %9.1f %10.2f  %s\n", name.c_str(), check.passed ? "PASS" : "FAIL", seconds,
                seconds / 120.0, shown.c_str());
    if (name == "first-run") {
      const auto& r = lesson.runs.front().label;
      std::printf(
          "  first-run: DPO on clean, default settings: true reward of sampled answers %.4f -> %.4f in %.1f "
          "s "
          "(÷ 60 s budget: %.2f)\n",
          values.at(r + ".sampled.reward_before"), values.at(r + ".sampled.reward_after"), first_run_seconds,
          first_run_seconds / 60.0);
    }
    std::fflush(stdout);
  }
  return failed == 0 ? 0 : 1;
}
