#pragma once
#include <CLI/App.hpp>

namespace dpo::cli {

// `dpo data stats FILE`: layout, pair counts, token length histograms, length bias, duplicates and
// truncation of a preference dataset.
void add_data_command(CLI::App& cli);
bool data_command_chosen();
// Throws dpo::Error for bad input; returns the exit code.
int run_data_command();

}  // namespace dpo::cli
