#pragma once
#include <CLI/App.hpp>

#include <string>

namespace dpo::cli {

// `dpo completion bash` prints a bash completion script and `dpo completion commands` every command
// path ("train", "lesson run", ...), one per line. Both are generated from the parser itself, so
// neither can drift from the flags; the .deb installs the script and makes one man page per path
// (installer/). Hidden from --help: users meet it through the package.
void add_completion_command(CLI::App& cli);
bool completion_command_chosen();
int run_completion_command(const CLI::App& cli);

// The script alone (tests source it in bash).
std::string bash_completion_script(const CLI::App& cli);

}  // namespace dpo::cli
