// Lesson files (core/lessons/lesson): an input starting with '{' is a whole lesson file for
// parse_lesson; anything else is a check expression ("dpo.final.loss < 0.5 and ...") for the check
// language alone. A check that parses is evaluated with every value it names set.
#include <map>
#include <string>

#include "core/lessons/lesson.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = dpo::fuzz::as_text(data, size);
  dpo::fuzz::expect_clean_errors([&] {
    std::string check;
    if (!text.empty() && text.front() == '{') {
      check = dpo::parse_lesson(text, "lesson.json", "lesson").check;
    } else {
      check = std::string(text);
    }
    std::map<std::string, double> values;
    double v = 0.0;
    for (const auto& name : dpo::check_value_names(check, "lesson.json")) values[name] = v += 0.5;
    (void)dpo::evaluate_check(check, values, "lesson.json");
  });
  return 0;
}
