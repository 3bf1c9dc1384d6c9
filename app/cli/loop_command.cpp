#include "app/cli/loop_command.h"

#include <cmath>
#include <cstdio>
#include <iostream>

#include "app/cli/cli_output.h"
#include "app/cli/commands.h"
#include "app/cli/flag_checks.h"
#include "app/session/loop.h"
#include "core/runtime/error.h"

namespace dpo::cli {

namespace {

struct LoopArgs {
  TrainArgs train;
  int rounds = 2;
  std::string prompts_path;
  size_t max_prompts = 0;
  int64_t k = 4;
  std::string scorer;
  std::string strategy = "best-vs-worst";
  double min_margin = 0;
  double temperature = 1.0;
  double top_p = 1.0;
  uint64_t sample_seed = 0;
  int64_t max_new_tokens = 32;
  std::string scorer_cmd;
  double scorer_timeout = 10;
  std::string scorer_regex;
  std::vector<std::string> scorer_keywords;
};

LoopArgs& args() {
  static LoopArgs a;
  return a;
}
CLI::App*& command() {
  static CLI::App* c = nullptr;
  return c;
}

}  // namespace

void add_loop_command(CLI::App& cli) {
  auto& a = args();
  a.train.out_dir = "runs/loop";
  a.train.run.trainer.max_steps = 30;
  auto* cmd =
      cli.add_subcommand("loop",
                         "iterative DPO: each round samples k answers per prompt from the current policy, "
                         "scores and pairs them, and trains from that policy on them");
  add_train_options(*cmd, a.train);
  cmd->remove_option(cmd->get_option("--data"));
  cmd->remove_option(cmd->get_option("--reference"));
  cmd->remove_option(cmd->get_option("--resume"));
  int_in_range(cmd->add_option("--rounds", a.rounds, "rounds of sample, score, pair, train"), 1, 100)
      ->capture_default_str();
  cmd->add_option("--prompts", a.prompts_path,
                  "prompts: JSONL/JSON/CSV with a prompt column, or text one per line "
                  "(default: the demo's)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--max-prompts", a.max_prompts, "use the first N prompts (0: all)")->capture_default_str();
  int_in_range(cmd->add_option("--k", a.k, "answers sampled per prompt"), 2, 256)->capture_default_str();
  cmd->add_option("--scorer", a.scorer, "text scorers with weights: length, regex, keyword, true, cmd")
      ->required();
  cmd->add_option("--strategy", a.strategy, "best-vs-worst, best-vs-random, random or all-above-margin")
      ->capture_default_str();
  cmd->add_option("--min-margin", a.min_margin, "minimum score difference of a pair")->capture_default_str();
  non_negative(cmd->add_option("--temperature", a.temperature, "sampling temperature (0: greedy)"))
      ->capture_default_str();
  above_zero_up_to(cmd->add_option("--top-p", a.top_p, "nucleus sampling (1: off)"), 1.0)
      ->capture_default_str();
  cmd->add_option("--sample-seed", a.sample_seed, "sampling seed (the same every round)")
      ->capture_default_str();
  at_least(cmd->add_option("--max-new-tokens", a.max_new_tokens, "longest sampled answer"), 1)
      ->capture_default_str();
  cmd->add_option("--scorer-cmd", a.scorer_cmd, "the cmd scorer's program and arguments (no shell)");
  positive(cmd->add_option("--scorer-timeout", a.scorer_timeout, "seconds per cmd scorer call"))
      ->capture_default_str();
  cmd->add_option("--scorer-regex", a.scorer_regex, "the regex scorer's pattern");
  cmd->add_option("--scorer-keywords", a.scorer_keywords, "the keyword scorer's words")->delimiter(',');
  command() = cmd;
}

bool loop_command_chosen() { return command() != nullptr && command()->parsed(); }

int run_loop_command() {
  const auto& a = args();
  app::LoopRequest request;
  request.base = a.train.run;
  request.rounds = a.rounds;
  request.prompts = app::load_prompts(a.prompts_path, a.max_prompts);
  request.sampling.k = a.k;
  request.sampling.generation.temperature = a.temperature;
  request.sampling.generation.top_p = a.top_p;
  request.sampling.generation.seed = a.sample_seed;
  request.sampling.generation.max_new_tokens = a.max_new_tokens;
  request.scorer = a.scorer;
  request.scorer_options.regex = a.scorer_regex;
  request.scorer_options.keywords = a.scorer_keywords;
  if (!a.scorer_cmd.empty()) request.scorer_options.command.argv = split_command_line(a.scorer_cmd);
  request.scorer_options.command.timeout_s = a.scorer_timeout;
  request.build.strategy = parse_pair_strategy(a.strategy);
  if (!(a.min_margin >= 0)) throw ConfigError("--min-margin: expected a number >= 0");
  request.build.min_margin = a.min_margin;
  request.build.seed = a.sample_seed;
  request.dir = a.train.out_dir;
  request.overwrite = a.train.overwrite;
  const auto result = app::run_loop(request, progress_lines(a.train.quiet));
  std::printf("%-7s %-14s %-14s %-7s %-9s %-12s %s\n", "round", "sampled score", "greedy score", "pairs",
              "dropped", "held-out", "train loss");
  for (const auto& r : result.rounds)
    std::printf("%-7d %-14s %-14s %-7zu %-9zu %-12s %s\n", r.round,
                number_or_dash(r.mean_score, "%.4f").c_str(), number_or_dash(r.greedy_score, "%.4f").c_str(),
                r.pairs, r.dropped_prompts, number_or_dash(100 * r.heldout_accuracy, "%.1f%%").c_str(),
                number_or_dash(r.train_loss, "%.4f").c_str());
  std::printf("%-7s %-14s %-14s (each round's policy is scored before it trains; final: the last policy)\n",
              "final", number_or_dash(result.final_mean_score, "%.4f").c_str(),
              number_or_dash(result.final_greedy_score, "%.4f").c_str());
  std::cout << "rounds, pairs and loop.json: " << request.dir.string() << "\n";
  return 0;
}

}  // namespace dpo::cli
