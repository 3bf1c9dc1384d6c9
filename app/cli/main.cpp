// dpo: the headless command line over the core.
#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>

#include "app/cli/bench_command.h"
#include "app/cli/commands.h"
#include "app/cli/completion_command.h"
#include "app/cli/data_command.h"
#include "app/cli/eval_command.h"
#include "app/cli/flag_checks.h"
#include "app/cli/lesson_command.h"
#include "app/cli/local_ranks.h"
#include "app/cli/loop_command.h"
#include "app/cli/loss_command.h"
#include "app/cli/pairs_command.h"
#include "app/cli/sweep_command.h"
#include "core/runtime/error.h"
#include "core/runtime/runtime.h"

int main(int argc, char** argv) {
  dpo::cli::set_invocation(argc, argv);
  CLI::App cli{"dpo: Direct Preference Optimization from the command line (DPO Studio)"};
  cli.require_subcommand(0, 1);
  std::optional<int> threads;
  bool version = false;
  dpo::cli::at_least(
      cli.add_option("--threads", threads, "torch intra-op threads (default: all hardware threads)"), 1);
  cli.add_flag("--version", version, "print version, libtorch and the BLAS in use");

  dpo::cli::TrainArgs train_args;
  auto* train = cli.add_subcommand("train", "run DPO on a preference dataset (default: the embedded demo)");
  dpo::cli::add_train_options(*train, train_args);

  dpo::cli::TrainArgs sft_args;
  sft_args.out_dir = "runs/sft";
  auto* sft = cli.add_subcommand(
      "sft", "fit a reference by maximum likelihood on the chosen completions (supervised fine-tuning)");
  dpo::cli::add_train_options(*sft, sft_args, /*sft=*/true);

  dpo::cli::MakeDemoArgs demo_args;
  auto* make_demo = cli.add_subcommand("make-demo", "regenerate resources/demo (corpus, tokenizer, pairs)");
  dpo::cli::add_make_demo_options(*make_demo, demo_args);

  dpo::cli::GenerateArgs generate_args;
  auto* generate = cli.add_subcommand("generate", "sample text from a Hugging Face model folder");
  dpo::cli::add_generate_options(*generate, generate_args);

  dpo::cli::TokenizeArgs tokenize_args;
  auto* tokenize = cli.add_subcommand("tokenize", "text on stdin -> token ids (or --decode ids -> text)");
  dpo::cli::add_tokenize_options(*tokenize, tokenize_args);

  dpo::cli::InspectArgs inspect_args;
  auto* inspect = cli.add_subcommand("inspect-model", "config, size, dtype and tokenizer of a model folder");
  dpo::cli::add_inspect_options(*inspect, inspect_args);

  dpo::cli::ExportArgs export_args;
  auto* export_cmd = cli.add_subcommand("export", "write a run's trained model as a Hugging Face folder");
  dpo::cli::add_export_options(*export_cmd, export_args);

  dpo::cli::DiagnoseArgs diagnose_args;
  auto* diagnose = cli.add_subcommand(
      "diagnose", "what a run's metrics.jsonl says in plain words: β too low or high, overfitting, ...");
  dpo::cli::add_diagnose_options(*diagnose, diagnose_args);

  dpo::cli::add_loss_command(cli);
  dpo::cli::add_data_command(cli);
  dpo::cli::add_lesson_command(cli);
  dpo::cli::add_bench_command(cli);
  dpo::cli::add_eval_commands(cli);
  dpo::cli::add_sweep_command(cli);
  dpo::cli::add_loop_command(cli);
  dpo::cli::add_pairs_command(cli);
  dpo::cli::add_completion_command(cli);
  dpo::cli::check_numbers(cli);
  cli.footer(
      "Exit codes: 0 done; 1 the command failed on its input (data, model, run folder, settings); "
      "2 bad usage (unknown flag, missing or bad value); 3 dpo lesson run: the lesson's symptom did "
      "not show; 130 interrupted (Ctrl+C).\nEvery error is one line on stderr starting with \"error: \".");

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help prints CLI11's text and exits 0; any other bad flag is one line, like every other error.
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return cli.exit(e);
    std::cerr << "error: " << e.what() << "\n";
    return dpo::cli::kExitUsage;
  } catch (const std::exception& e) {  // dpo::cli::FlagError and bad values caught by option callbacks
    std::cerr << "error: " << e.what() << "\n";
    return dpo::cli::kExitUsage;
  }
  try {
    const int used_threads = dpo::configure_threads(threads ? threads : dpo::cli::local_rank_threads());
    if (version) {
      std::cout << dpo::version_string() << "\nBLAS: " << dpo::blas_description()
                << "\nthreads: " << used_threads << "\n";
      return 0;
    }
    if (*train) return dpo::cli::run_train(train_args);
    if (*sft) return dpo::cli::run_train(sft_args);
    if (*make_demo) return dpo::cli::run_make_demo(demo_args);
    if (*generate) return dpo::cli::run_generate(generate_args);
    if (*tokenize) return dpo::cli::run_tokenize(tokenize_args);
    if (*inspect) return dpo::cli::run_inspect(inspect_args);
    if (*export_cmd) return dpo::cli::run_export(export_args);
    if (*diagnose) return dpo::cli::run_diagnose(diagnose_args);
    if (dpo::cli::loss_command_chosen()) return dpo::cli::run_loss_command();
    if (dpo::cli::data_command_chosen()) return dpo::cli::run_data_command();
    if (dpo::cli::lesson_command_chosen()) return dpo::cli::run_lesson_command();
    if (dpo::cli::bench_command_chosen()) return dpo::cli::run_bench_command();
    if (dpo::cli::eval_command_chosen()) return dpo::cli::run_eval_command();
    if (dpo::cli::sweep_command_chosen()) return dpo::cli::run_sweep_command();
    if (dpo::cli::loop_command_chosen()) return dpo::cli::run_loop_command();
    if (dpo::cli::pairs_command_chosen()) return dpo::cli::run_pairs_command();
    if (dpo::cli::completion_command_chosen()) return dpo::cli::run_completion_command(cli);
    std::cout << cli.help();
    return 0;
  } catch (const std::exception& e) {  // dpo::Error, and I/O or library failures
    std::cerr << "error: " << e.what() << "\n";
    return dpo::cli::kExitFailed;
  }
}
