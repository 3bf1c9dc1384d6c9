#pragma once
#include <CLI/App.hpp>

namespace dpo::cli {

// `dpo loop`: iterative DPO (app/session/loop.h): sample k answers per prompt from the current policy,
// score, pair, train from that policy, repeat; per-round figures and every round's pairs kept.
void add_loop_command(CLI::App& cli);
bool loop_command_chosen();
int run_loop_command();

}  // namespace dpo::cli
