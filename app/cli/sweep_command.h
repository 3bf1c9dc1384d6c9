#pragma once
#include <CLI/App.hpp>

namespace dpo::cli {

// `dpo sweep`: short runs over β × loss from the same start and data order (app/session/sweep.h), a
// table on the held-out pairs and a recommendation in words. Rerunning the same command resumes it.
void add_sweep_command(CLI::App& cli);
bool sweep_command_chosen();
int run_sweep_command();

}  // namespace dpo::cli
