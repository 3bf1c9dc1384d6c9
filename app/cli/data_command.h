#pragma once
#include <CLI/App.hpp>

namespace dpo::cli {
// Registers the subcommand on `cli`; returns a runner called when it was chosen (exit code).
// placeholder: filled in by its issue's work
}  // namespace dpo::cli
