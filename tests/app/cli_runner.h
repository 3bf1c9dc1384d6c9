#pragma once
// Runs the dpo command line (DPO_CLI, set by CMake) for end-to-end tests.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace {

struct Result {
  int code;
  std::string output;
};

// A shell command line's stdout and exit code.
inline Result shell(const std::string& command) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  std::array<char, 4096> buffer{};
  while (size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) output.append(buffer.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// stdout always; stderr too unless with_stderr is false (JSON-parsing tests).
inline Result run(const std::string& args, bool with_stderr = true) {
  return shell(std::string(DPO_CLI) + " " + args + (with_stderr ? " 2>&1" : " 2>/dev/null"));
}

}  // namespace
