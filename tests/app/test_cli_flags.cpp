// Bad command-line flags end as one "error: ..." line and exit code 2, never as an exception that
// escapes the flag parser (terminate) or CLI11's two-line text.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cli_runner.h"

namespace {

TEST(CliFlags, BadFlagValueIsOneErrorLineAndExit2) {
  struct Case {
    std::string args, line;
  };
  const std::vector<Case> cases = {
      {"train --loss sigmoid:abc,ipo:1 --steps 1",
       "error: --loss: \"abc\" is not a number (in \"sigmoid:abc\")"},
      {"train --loss sigmoid:nan --steps 1", "error: --loss: \"nan\" is not a number (in \"sigmoid:nan\")"},
      {"train --loss sigmoid:1e999 --steps 1",
       "error: --loss: \"1e999\" is not a number (in \"sigmoid:1e999\")"},
      {"train --truncation sideways --steps 1", "error: "},
      {"train --steps abc", "error: --steps: "},
      {"train --schedule wobbly", "error: --schedule: expected constant, linear or cosine"},
      {"--threads 0 train", "error: --threads: "},
      {"train --no-such-flag", "error: "},
  };
  for (const auto& c : cases) {
    const auto r = run(c.args + " --out /nonexistent/dpo-cli-flags-run");
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.output;
    EXPECT_EQ(r.output.rfind(c.line, 0), 0u) << c.args << "\n" << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << c.args << "\n" << r.output;
  }
}

TEST(CliFlags, HelpStillExitsZero) {
  const auto r = run("train --help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.output.find("--loss"), std::string::npos);
}

}  // namespace
