#pragma once
#include <CLI/App.hpp>

namespace dpo::cli {

// `dpo bench step`: one optimiser step of the real trainer on a random-initialised Llama of a given
// shape (median seconds, tokens/s, GFLOP/s against a matmul peak measured in the same run, MFU, peak
// resident memory). `dpo bench compare`: the same against bench/baseline/dpo_step.py (seed 002's
// sketch in eager PyTorch) on the same weights and tokens, each in its own process, alternating.
void add_bench_command(CLI::App& cli);
bool bench_command_chosen();
int run_bench_command();

}  // namespace dpo::cli
