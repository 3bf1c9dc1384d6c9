#pragma once
// RunOptions back into the `dpo train` command line that makes them (the studio's "Copy run setup").
#include <string>
#include <string_view>
#include <vector>

#include "app/session/run_options.h"

namespace dpo::app {

struct TrainCommand {
  // "train", or "sft" for the SFT objective (its own defaults: learning rate 1e-3, no loss flags).
  std::string subcommand;
  // The flags and values after the subcommand, unquoted; only what differs from the defaults.
  std::vector<std::string> args;
  // config.json keys set away from their defaults that no flag reaches ("trainer.adam_beta1"): the
  // command line trains them at their defaults; a setup file keeps them.
  std::vector<std::string> not_expressible;
};

TrainCommand train_command(const RunOptions& options);

// `program subcommand args…` for a POSIX shell, each word quoted when it needs to be.
std::string train_command_line(const RunOptions& options, std::string_view program = "dpo");

// One word for sh/bash/zsh: as it is when it holds only safe characters, else in single quotes
// (a ' inside written as '\'').
std::string shell_quote(std::string_view word);

// The shortest decimal that CLI11 reads back (through long double) as exactly `value`.
std::string format_number(double value);

}  // namespace dpo::app
