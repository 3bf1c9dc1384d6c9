#include "app/cli/sweep_command.h"

#include <cmath>
#include <cstdio>
#include <iostream>

#include "app/cli/cli_output.h"
#include "app/cli/commands.h"
#include "app/cli/flag_checks.h"
#include "app/session/sweep.h"
#include "core/runtime/error.h"

namespace dpo::cli {

namespace {

struct SweepArgs {
  TrainArgs train;
  std::vector<double> betas{0.01, 0.03, 0.1, 0.3, 1.0};
  std::string losses = "sigmoid";
};

SweepArgs& args() {
  static SweepArgs a;
  return a;
}
CLI::App*& command() {
  static CLI::App* c = nullptr;
  return c;
}

}  // namespace

void add_sweep_command(CLI::App& cli) {
  auto& a = args();
  a.train.out_dir = "runs/sweep";
  a.train.run.trainer.max_steps = 60;
  auto* cmd =
      cli.add_subcommand("sweep",
                         "short runs over beta x loss from the same start and data order, compared on "
                         "held-out pairs, with a recommendation (rerun to resume)");
  add_train_options(*cmd, a.train);
  // The run's single --beta and --loss become lists here.
  cmd->remove_option(cmd->get_option("--beta"));
  cmd->remove_option(cmd->get_option("--loss"));
  positive(cmd->add_option("--beta", a.betas, "beta values, comma separated")->delimiter(','))
      ->default_str("0.01,0.03,0.1,0.3,1");
  cmd->add_option("--loss", a.losses, "losses, comma separated")->capture_default_str();
  command() = cmd;
}

bool sweep_command_chosen() { return command() != nullptr && command()->parsed(); }

int run_sweep_command() {
  const auto& a = args();
  if (!a.train.resume_dir.empty())
    throw ConfigError("dpo sweep: rerun the same command to resume a sweep (--resume is for one run)");
  app::SweepRequest request;
  request.base = a.train.run;
  request.betas = a.betas;
  for (const auto& term : parse_loss_terms(a.losses, "--loss")) request.losses.push_back(term.type);
  request.dir = a.train.out_dir;
  request.overwrite = a.train.overwrite;
  const auto cells = app::run_sweep(request, progress_lines(a.train.quiet));
  std::printf("%-22s %-8s %-10s %-9s %-9s %-9s %-8s %-10s %s\n", "run", "beta", "held-out", "margin",
              "KL nats", "length", "reward", "train loss", "");
  for (const auto& c : cells)
    std::printf(
        "%-22s %-8g %-10s %-9s %-9s %-9s %-8s %-10s %s\n", c.name.c_str(), c.beta,
        number_or_dash(100 * c.heldout_accuracy, "%.1f%%").c_str(),
        number_or_dash(c.heldout_margin, "%+.3f").c_str(), number_or_dash(c.sampled_kl, "%.3f").c_str(),
        number_or_dash(c.sampled_length, "%.1f").c_str(), number_or_dash(c.true_reward, "%.3f").c_str(),
        number_or_dash(c.train_loss, "%.4f").c_str(), c.reused ? "(reused)" : "");
  const auto choice = app::recommend_cell(cells);
  std::cout << "recommended: " << choice.reason << "\n"
            << "runs and sweep.json: " << request.dir.string() << "\n";
  return 0;
}

}  // namespace dpo::cli
