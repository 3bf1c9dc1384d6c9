#pragma once
#include <CLI/App.hpp>

namespace dpo::cli {

// `dpo loss`: evaluates preference_loss() — the trainer's code path — on log-probs given on the command
// line and prints per-pair losses, rewards and gradient weights as JSON. The options live in static
// storage inside loss_command.cpp: register, let CLI11 parse, then run if the subcommand was chosen.
void add_loss_command(CLI::App& cli);
bool loss_command_chosen();
int run_loss_command();

}  // namespace dpo::cli
