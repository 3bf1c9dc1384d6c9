#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "app/cli/commands.h"
#include "core/runtime/error.h"
#include "core/train/losses.h"

namespace dpo::cli {

namespace {
std::atomic<bool> g_interrupted{false};
void on_interrupt(int) { g_interrupted = true; }
}  // namespace

void add_train_options(CLI::App& cmd, TrainArgs& a) {
  cmd.add_option("--data", a.run.data_path, "preference JSONL {prompt, chosen, rejected} (default: embedded demo)")
      ->check(CLI::ExistingFile);
  cmd.add_option("--model", a.run.model_dir, "Hugging Face model folder (default: a tiny random Llama for the demo)")
      ->check(CLI::ExistingDirectory);
  cmd.add_option("--tokenizer", a.run.tokenizer_path, "tokenizer.json or sentencepiece .model (default: the model's)")
      ->check(CLI::ExistingFile);
  cmd.add_option("--device", a.run.device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd.add_option("--beta", a.run.trainer.loss.beta, "DPO temperature beta (typical 0.01 - 0.5)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd.add_option("--label-smoothing", a.run.trainer.loss.label_smoothing, "cDPO label smoothing epsilon")
      ->check(CLI::Range(0.0, 0.5))->capture_default_str();
  cmd.add_option("--steps", a.run.trainer.max_steps, "optimiser steps")->check(CLI::PositiveNumber)->capture_default_str();
  cmd.add_option("--lr", a.run.trainer.learning_rate, "AdamW learning rate")->check(CLI::PositiveNumber)->capture_default_str();
  cmd.add_option("--batch", a.run.trainer.batch_size, "pairs per step")->check(CLI::PositiveNumber)->capture_default_str();
  cmd.add_option("--seed", a.run.trainer.seed, "data order seed")->capture_default_str();
  cmd.add_option("--model-seed", a.run.model_seed, "initialisation seed of the demo policy")->capture_default_str();
  cmd.add_option("--max-length", a.run.tokenize.max_length, "tokens per prompt+completion")->capture_default_str();
  cmd.add_option("--out", a.out_dir, "run directory; metrics.jsonl is written there")->capture_default_str();
  cmd.add_flag("--overwrite", a.overwrite, "replace an existing metrics.jsonl in --out");
  cmd.add_flag("--quiet", a.quiet, "no per-step lines");
  cmd.add_option_function<std::string>(
         "--loss",
         [&a](const std::string& name) {
           auto type = parse_loss_type(name);
           if (!type) throw CLI::ValidationError("--loss", "unknown loss '" + name + "'");
           a.run.trainer.loss.type = *type;
         },
         "loss variant (sigmoid)")
      ->default_str("sigmoid");
}

int run_train(const TrainArgs& args) {
  namespace fs = std::filesystem;
  const fs::path out = args.out_dir;
  const fs::path metrics_path = out / "metrics.jsonl";
  if (fs::exists(metrics_path) && !args.overwrite)
    throw ConfigError(metrics_path.string() + ": already exists (pass --overwrite or choose another --out)");

  auto setup = app::prepare_run(args.run);
  fs::create_directories(out);
  // Written beside the final name and renamed at the end: an interrupted run never leaves a
  // half-replaced metrics.jsonl, while the .partial file can be tailed live.
  const fs::path partial = out / "metrics.jsonl.partial";
  std::ofstream metrics(partial, std::ios::trunc);
  if (!metrics) throw ConfigError(partial.string() + ": cannot write");

  std::cout << "model: " << setup.model_label << ", data: " << setup.data_label << " (" << setup.pairs.size() << " pairs), policy: "
            << setup.parameter_count << " parameters, loss: "
            << loss_info(args.run.trainer.loss.type).label << ", beta " << args.run.trainer.loss.beta << "\n";
  std::signal(SIGINT, on_interrupt);
  const auto steps = train(*setup.trainer, [&](const StepMetrics& m) {
    nlohmann::json j = m;
    metrics << j.dump() << "\n" << std::flush;
    if (!args.quiet) {
      std::printf("step %4lld  loss %.4f  margin %+.4f  acc %.2f  chosen %+.4f  rejected %+.4f  len %.1f/%.1f\n",
                  static_cast<long long>(m.step), m.loss, m.rewards_margins, m.rewards_accuracies,
                  m.rewards_chosen, m.rewards_rejected, m.length_chosen, m.length_rejected);
      std::fflush(stdout);
    }
    return true;
  }, &g_interrupted);
  std::signal(SIGINT, SIG_DFL);
  metrics.close();
  fs::rename(partial, metrics_path);
  app::save_policy(setup, args.run, (out / "final").string());
  std::cout << (g_interrupted ? "interrupted after " : "finished ") << steps << " steps; metrics: "
            << metrics_path.string() << "; model: " << (out / "final").string() << "\n";
  return g_interrupted ? 130 : 0;
}

}  // namespace dpo::cli
