// `dpo completion bash` and `dpo completion commands` (installer/: the bash completion and the man
// pages of the .deb come from them). The script is sourced in a real bash and asked what it offers.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli_runner.h"

namespace fs = std::filesystem;

namespace {

fs::path script_file() {
  static const fs::path file = [] {
    const fs::path f = fs::temp_directory_path() / ("dpo-completion-" + std::to_string(::getpid()) + ".bash");
    const auto r = run("completion bash", /*with_stderr=*/false);
    EXPECT_EQ(r.code, 0);
    std::ofstream(f) << r.output;
    return f;
  }();
  return file;
}

// What the script offers for the words after `dpo`, the last one being completed ("" = a new word).
std::string offers(const std::string& words) {
  std::ostringstream script;
  script << "source " << script_file() << "; COMP_WORDS=(dpo " << words << "); "
         << "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _dpo; printf '%s\\n' \"${COMPREPLY[@]}\" | sort | tr "
            "'\\n' ' '";
  const fs::path driver = script_file().string() + ".driver";
  std::ofstream(driver) << script.str();
  return shell("bash " + driver.string() + " 2>&1").output;
}

}  // namespace

TEST(CliCompletion, SubcommandsAndOptionsComeFromTheParser) {
  EXPECT_EQ(offers("tr"), "train ");
  EXPECT_EQ(offers("lesson ''"), "list run ");
  EXPECT_EQ(offers("lesson run --j"), "--json ");
  EXPECT_EQ(offers("train --bet"), "--beta ");
  EXPECT_EQ(offers("--vers"), "--version ");
  // Options of another command are not offered, and the hidden command is not either.
  EXPECT_EQ(offers("lesson run --bet"), " ");
  EXPECT_EQ(offers("compl"), " ");
}

TEST(CliCompletion, AValueIsLeftToFileNameCompletion) {
  // After --data (takes a value) the script offers nothing, so `complete -o default` lists files.
  EXPECT_EQ(offers("train --data ''"), " ");
  // A flag takes no value: the next word is an option again.
  EXPECT_EQ(offers("lesson run --json --sh"), "--short ");
}

TEST(CliCompletion, CommandsListEveryPathOnce) {
  const auto r = run("completion commands", false);
  ASSERT_EQ(r.code, 0);
  std::istringstream lines(r.output);
  std::vector<std::string> paths;
  for (std::string line; std::getline(lines, line);) paths.push_back(line);
  for (const char* expected : {"train", "sft", "lesson", "lesson list", "lesson run", "bench dist", "eval"})
    EXPECT_NE(std::find(paths.begin(), paths.end(), expected), paths.end()) << expected << " in\n"
                                                                            << r.output;
  EXPECT_EQ(std::find(paths.begin(), paths.end(), "completion"), paths.end());
  std::sort(paths.begin(), paths.end());
  EXPECT_EQ(std::adjacent_find(paths.begin(), paths.end()), paths.end());
  // Hidden from --help, and a bad argument is one line with exit 2.
  EXPECT_EQ(run("--help").output.find("\n  completion"), std::string::npos);
  const auto bad = run("completion zsh");
  EXPECT_EQ(bad.code, 2);
  EXPECT_EQ(std::count(bad.output.begin(), bad.output.end(), '\n'), 1) << bad.output;
}
