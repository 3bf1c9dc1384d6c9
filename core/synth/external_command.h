#pragma once
// Runs a user's program as a scorer (issue 14): argv straight to execvp, never a shell, with a
// deadline and bounded output, so a hostile or broken scorer costs at most its timeout.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace dpo {

struct ExternalCommand {
  std::vector<std::string> argv;  // argv[0] is looked up on PATH as execvp does
  double timeout_s = 10;          // for the whole call: writing stdin, reading stdout, exiting
  size_t max_output_bytes = size_t{64} << 10;
};

// Starts argv in a process group of its own, writes `input` to its stdin, collects its stdout and
// returns it when it exits with status 0. Every failure throws dpo::Error with one line saying what
// went wrong ("cannot run 'x': No such file or directory", "exited with status 3 (stderr: ...)",
// "killed by signal 11", "no answer within 1 s (killed)", "printed more than 65536 bytes (killed)");
// on a timeout or an overlong output the whole process group is killed with SIGKILL.
std::string run_command(const ExternalCommand& command, std::string_view input);

// The one number a scorer prints, optionally surrounded by whitespace; throws dpo::Error otherwise
// (nothing, words, two numbers, nan, inf).
double parse_score_output(std::string_view output);

// "prog --flag 'two words'" → {"prog", "--flag", "two words"}: words split on whitespace, single and
// double quotes group, a backslash escapes the next character; nothing else is interpreted (no
// variables, globs or pipes). ConfigError on an unclosed quote or an empty command.
std::vector<std::string> split_command_line(std::string_view text);

}  // namespace dpo
