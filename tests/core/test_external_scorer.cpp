// The external command scorer (core/synth/external_command.h, issue 14) against small shell scripts
// the test writes: the scripts may use /bin/sh; the runner itself never does (argv to execvp).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "core/runtime/error.h"
#include "core/synth/external_command.h"
#include "core/synth/scorers.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;

class ExternalScorer : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dpo_test_external_scorer_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string script(const std::string& name, const std::string& body) {
    const auto path = dir_ / name;
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    ::chmod(path.c_str(), 0755);
    return path.string();
  }

  // Scores two prompts of two answers each with the command and returns the four values.
  std::vector<double> score_with(std::vector<std::string> argv, double timeout_s = 10) {
    TextScorerOptions options;
    options.command.argv = std::move(argv);
    options.command.timeout_s = timeout_s;
    auto scorer = make_text_scorer("cmd", options);
    const std::vector<ScoreInput> inputs = {{"Question: 1 + 1?", "2", 0, 0, 1},
                                            {"Question: 1 + 1?", "three", 0, 1, 1},
                                            {"Tell a \"story\"", "ok\nfine", 1, 0, 2},
                                            {"Tell a \"story\"", "bad", 1, 1, 1}};
    return scorer->score(inputs);
  }

  // The one-line message of the dpo::Error the scorer throws.
  std::string failure(std::vector<std::string> argv, double timeout_s = 10) {
    try {
      score_with(std::move(argv), timeout_s);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }

  fs::path dir_;
};

TEST_F(ExternalScorer, ReadsOneNumberPerAnswerFromTheJsonItIsGiven) {
  // The score is the length of the answer's JSON line plus 10·index: the script sees the exact JSON.
  const auto s = script("good.sh", R"sh(read -r line
idx=${line#*\"index\":}
idx=${idx%%,*}
echo "  $(( ${#line} + 10 * idx ))")sh");
  const auto v = score_with({s});
  // {"answer":"2","index":0,"prompt":"Question: 1 + 1?"} is 52 characters.
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0], 52);
  EXPECT_EQ(v[1], 56 + 10);  // "three": 4 more characters, index 1
  // {"answer":"ok\nfine","index":0,"prompt":"Tell a \"story\""}: the newline and quotes escaped.
  EXPECT_EQ(v[2], 59);
  EXPECT_EQ(v[3], 54 + 10);
}

TEST_F(ExternalScorer, ArgumentsReachTheProgramUnexpanded) {
  // $HOME and the glob stay literal: no shell parses the argv.
  const auto s = script("args.sh", "cat >/dev/null; [ \"$1\" = '$HOME *' ] && echo 1.5 || echo 0");
  EXPECT_EQ(score_with({s, "$HOME *"}), (std::vector<double>{1.5, 1.5, 1.5, 1.5}));
  EXPECT_EQ(split_command_line("prog --x 'two words' \"a \\\" b\" c\\ d"),
            (std::vector<std::string>{"prog", "--x", "two words", "a \" b", "c d"}));
  EXPECT_THROW(split_command_line("prog 'open"), ConfigError);
}

TEST_F(ExternalScorer, NonZeroExitNamesTheRow) {
  // Fails on the second prompt's first answer only.
  const auto s = script(
      "fail.sh", "read -r line; case \"$line\" in *ok*story*) echo 'no model' >&2; exit 3;; esac; echo 1");
  EXPECT_EQ(failure({s}),
            "scorer cmd '" + s + "': prompt 2, answer 1: exited with status 3 (stderr: no model)");
}

TEST_F(ExternalScorer, GarbageOutputNamesTheRow) {
  const auto s = script("garbage.sh", "cat >/dev/null; echo 'score: 7'");
  EXPECT_EQ(failure({s}),
            "scorer cmd '" + s + "': prompt 1, answer 1: expected one number on stdout, got \"score: 7\"");
  const auto two = script("two.sh", "cat >/dev/null; echo '1 2'");
  EXPECT_EQ(failure({two}),
            "scorer cmd '" + two + "': prompt 1, answer 1: expected one number on stdout, got \"1 2\"");
  const auto none = script("none.sh", "cat >/dev/null");
  EXPECT_EQ(failure({none}), "scorer cmd '" + none +
                                 "': prompt 1, answer 1: printed no score (expected one number on stdout)");
  const auto nan = script("nan.sh", "cat >/dev/null; echo nan");
  EXPECT_EQ(failure({nan}),
            "scorer cmd '" + nan + "': prompt 1, answer 1: expected one number on stdout, got \"nan\"");
}

TEST_F(ExternalScorer, OutputOverTheLimitIsKilled) {
  // 100 000 bytes of digits: a number, but over the 64 KB limit.
  const auto s = script("flood.sh", "cat >/dev/null; head -c 100000 /dev/zero | tr '\\0' '1'");
  EXPECT_EQ(failure({s}),
            "scorer cmd '" + s + "': prompt 1, answer 1: printed more than 65536 bytes (killed)");
}

TEST_F(ExternalScorer, ASlowScorerIsKilledAtItsTimeout) {
  const auto s = script("slow.sh", "sleep 30; echo 1");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(failure({s}, 1.0), "scorer cmd '" + s + "': prompt 1, answer 1: no answer within 1 s (killed)");
  // A runaway guard, not a timing target: far below the script's 30 s.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));
}

TEST_F(ExternalScorer, SignalAndMissingProgram) {
  const auto s = script("crash.sh", "cat >/dev/null; kill -TERM $$");
  EXPECT_EQ(failure({s}), "scorer cmd '" + s + "': prompt 1, answer 1: killed by signal 15");
  const auto missing = (dir_ / "no-such-scorer").string();
  EXPECT_EQ(failure({missing}), "scorer cmd '" + missing + "': prompt 1, answer 1: cannot run '" + missing +
                                    "': No such file or directory");
}

TEST_F(ExternalScorer, AProgramThatIgnoresItsInputStillAnswers) {
  // Closes stdin at once and answers; a 1 MB prompt would otherwise meet a closed pipe.
  const auto s = script("deaf.sh", "exec 0<&-; echo 2.5");
  ExternalCommand c{{s}, 10, 64 << 10};
  EXPECT_EQ(parse_score_output(run_command(c, std::string(1 << 20, 'x'))), 2.5);
}

TEST(ScorerSpec, ParsesWeightsAndNamesTheBadPart) {
  const auto terms = parse_scorer_spec("length:-0.1,implicit:1,regex:0.5,true");
  ASSERT_EQ(terms.size(), 4u);
  EXPECT_EQ(terms[0].name, "length");
  EXPECT_DOUBLE_EQ(terms[0].weight, -0.1);
  EXPECT_EQ(terms[3].name, "true");
  EXPECT_DOUBLE_EQ(terms[3].weight, 1.0);
  EXPECT_EQ(scorer_spec_string(terms), "length:-0.1,implicit:1,regex:0.5,true:1");
  auto message = [](const std::string& spec) {
    try {
      parse_scorer_spec(spec);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(
      message("length,lenght:2"),
      "unknown scorer 'lenght' in \"length,lenght:2\" (known: length, regex, keyword, true, cmd, logprob, "
      "implicit)");
  EXPECT_EQ(message("length:x"), "scorer weight \"x\" is not a number (in \"length:x\")");
  EXPECT_EQ(message("true:1e999"), "scorer weight \"1e999\" is not a number (in \"true:1e999\")");
  EXPECT_EQ(message("true,,length"), "scorer \"true,,length\": an empty part (expected name[:weight],...)");
  EXPECT_EQ(message("true,true:2"), "scorer 'true' given twice in \"true,true:2\"");
}

TEST(TextScorers, LengthRegexKeywordTrueAndTheirSum) {
  TextScorerOptions o;
  o.regex = "\\bplease\\b|\\d+";
  o.keywords = {"Glad", "help"};
  CompositeScorer composite;
  for (const auto& term : parse_scorer_spec("length:-0.5,regex:2,keyword:3,true:10"))
    composite.add(term, make_text_scorer(term.name, o));
  const std::vector<ScoreInput> in = {
      {"Question: what is 7 + 7?\nAnswer:", " 7 + 7 = 14.", 0, 0, 5},
      {"User: can you help?\nAssistant:", " Please, glad to help, GLAD! please", 1, 0, 9},
      {"Story: x", " héllo", 2, 0, 2},
  };
  const auto s = composite.score(in);
  // length (code points): 12, 35, 6 (é is one character in two bytes).
  EXPECT_EQ(s.terms[0], (std::vector<double>{12, 35, 6}));
  // regex: 7, 7, 14 | "please" (the capitalised one is not matched) | nothing.
  EXPECT_EQ(s.terms[1], (std::vector<double>{3, 1, 0}));
  // keyword (case-blind whole words): glad, help, GLAD.
  EXPECT_EQ(s.terms[2], (std::vector<double>{0, 3, 0}));
  // true reward: a right sum is 1; polite words and no rude ones 1; a story ending with no lexicon
  // word 0.5.
  EXPECT_DOUBLE_EQ(s.terms[3][0], 1.0);
  EXPECT_DOUBLE_EQ(s.terms[3][1], 1.0);
  EXPECT_DOUBLE_EQ(s.terms[3][2], 0.5);
  EXPECT_DOUBLE_EQ(s.total[0], -0.5 * 12 + 2 * 3 + 3 * 0 + 10 * 1.0);
  EXPECT_DOUBLE_EQ(s.total[2], -0.5 * 6 + 0 + 0 + 10 * 0.5);
  EXPECT_DOUBLE_EQ(s.total[1], -0.5 * 35 + 2 * 1 + 3 * 3 + 10 * 1.0);

  o.regex = "(";
  EXPECT_THROW(make_text_scorer("regex", o), ConfigError);
  o.keywords = {"two words"};
  EXPECT_THROW(make_text_scorer("keyword", o), ConfigError);
  EXPECT_THROW(make_text_scorer("cmd", {}), ConfigError);
  EXPECT_THROW(make_text_scorer("implicit", {}), ConfigError);
}

}  // namespace
}  // namespace dpo
