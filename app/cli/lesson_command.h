#pragma once
#include <CLI/App.hpp>

namespace dpo::cli {

// `dpo lesson list` and `dpo lesson run NAME|FILE [--json] [--short]`: the classroom lessons of
// resources/lessons, run headless with a PASS/FAIL line for the symptom check. Options live in
// static storage inside lesson_command.cpp, as with `dpo loss`.
void add_lesson_command(CLI::App& cli);
bool lesson_command_chosen();
int run_lesson_command();

}  // namespace dpo::cli
