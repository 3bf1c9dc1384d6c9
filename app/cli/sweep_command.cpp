#include "app/cli/sweep_command.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>

#include "app/cli/commands.h"
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

std::string cell(double v, const char* format) {
  if (!std::isfinite(v)) return "-";
  char b[32];
  std::snprintf(b, sizeof b, format, v);
  return b;
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
  cmd->add_option("--beta", a.betas, "beta values, comma separated")->delimiter(',')->capture_default_str();
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
  const bool quiet = a.train.quiet;
  auto last = std::make_shared<std::chrono::steady_clock::time_point>();
  auto stage_seen = std::make_shared<std::string>();
  const auto cells = app::run_sweep(request, [&](const std::string& stage, size_t done, size_t total) {
    if (quiet) return true;
    const auto now = std::chrono::steady_clock::now();
    if (stage != *stage_seen || done == total || now - *last > std::chrono::seconds(5)) {
      *stage_seen = stage;
      *last = now;
      if (total > 0)
        std::printf("%s %zu/%zu\n", stage.c_str(), done, total);
      else
        std::printf("%s\n", stage.c_str());
      std::fflush(stdout);
    }
    return true;
  });
  std::printf("%-22s %-8s %-10s %-9s %-9s %-9s %-8s %-10s %s\n", "run", "beta", "held-out", "margin",
              "KL nats", "length", "reward", "train loss", "");
  for (const auto& c : cells)
    std::printf("%-22s %-8g %-10s %-9s %-9s %-9s %-8s %-10s %s\n", c.name.c_str(), c.beta,
                cell(100 * c.heldout_accuracy, "%.1f%%").c_str(), cell(c.heldout_margin, "%+.3f").c_str(),
                cell(c.sampled_kl, "%.3f").c_str(), cell(c.sampled_length, "%.1f").c_str(),
                cell(c.true_reward, "%.3f").c_str(), cell(c.train_loss, "%.4f").c_str(),
                c.reused ? "(reused)" : "");
  const auto choice = app::recommend_cell(cells);
  std::cout << "recommended: " << choice.reason << "\n"
            << "runs and sweep.json: " << request.dir.string() << "\n";
  return 0;
}

}  // namespace dpo::cli
