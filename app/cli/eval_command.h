#pragma once
#include <CLI/App.hpp>

namespace dpo::cli {

// `dpo eval` (a model on preference pairs: accuracy with a bootstrap interval, margin, calibration,
// length bias, KL on sampled answers; eval.json + pairs.jsonl) and `dpo rank` (several models or a
// run's checkpoints on the same pairs, with paired-bootstrap p-values; --select best). Options live in
// static storage in eval_command.cpp, as for `dpo loss`.
void add_eval_commands(CLI::App& cli);
bool eval_command_chosen();
int run_eval_command();

}  // namespace dpo::cli
