#pragma once
#include <CLI/App.hpp>

namespace dpo::cli {

// `dpo pairs` (issue 14): sample k answers per prompt from a model, score them with a composite
// scorer, pair them by a strategy and write a preference dataset `dpo train --data` reads, with the
// provenance of every row. Options live in static storage in pairs_command.cpp, as for `dpo eval`.
void add_pairs_command(CLI::App& cli);
bool pairs_command_chosen();
int run_pairs_command();

}  // namespace dpo::cli
