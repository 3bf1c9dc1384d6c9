#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dpo {

// A classroom lesson (resources/lessons/README.md documents the file format): predict, run, check
// the symptom, reveal.
struct LessonRun {
  std::string label;              // names its values in the check: "<label>.final.loss"
  std::string dataset = "clean";  // a demo variant (core/demo/demo_datasets.h)
  std::string objective = "dpo";  // "dpo" (a preference loss) or "sft" (NLL on chosen)
  std::string loss = "sigmoid";   // a loss of the table (core/train/losses.h)
  double beta = 0.1;
  double learning_rate = 1e-3;
  double label_smoothing = 0.0;
  double length_alpha = 0.01;  // rdpo-length α per token of length difference
  int64_t steps = 60;
  int64_t batch_size = 8;
  uint64_t seed = 0;  // data order
};

struct Lesson {
  std::string name;  // the file's stem: `dpo lesson run NAME`
  int number = 0;    // order in `dpo lesson list`
  std::string title;
  std::string question;  // asked before running (predict, then reveal)
  std::vector<LessonRun> runs;
  std::optional<int64_t> short_steps;  // --short: every run takes this many steps (CI)
  std::vector<std::string> plots;      // metric names to show, e.g. "rewards/margins"
  std::string symptom;                 // what to look for, in words
  std::string check;                   // the machine check of the symptom, see evaluate_check
  std::string explanation;             // revealed after the run
  std::string seed_section;            // e.g. "002 §10"
};

// Throws ConfigError "<source>: field <name>: <problem>" for the first bad or missing field.
Lesson parse_lesson(std::string_view json_text, const std::string& source, const std::string& name);

// The check language: clauses joined by "and"; a clause is `expr OP expr` with OP one of < <= > >=;
// expr is + − * / ( ) and abs( ) over numbers and value names "<run>.<kind>.<metric>".
struct CheckClause {
  std::string text;      // the clause as written
  std::string measured;  // "dpo.final.loss = 0.6931 > 0.65"
  double left = 0;
  double right = 0;
  bool passed = false;
};
struct CheckResult {
  bool passed = false;
  std::vector<CheckClause> clauses;
};
// Throws ConfigError naming `source` for a syntax error or a name missing from `values`.
CheckResult evaluate_check(const std::string& check, const std::map<std::string, double>& values,
                           const std::string& source);
// The value names a check reads, in order of appearance (validated syntax).
std::vector<std::string> check_value_names(const std::string& check, const std::string& source);

}  // namespace dpo
