// dpo: the headless command line over the core.
#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>

#include "app/cli/commands.h"
#include "core/runtime/error.h"
#include "core/runtime/runtime.h"

int main(int argc, char** argv) {
  CLI::App cli{"dpo: Direct Preference Optimization from the command line (DPO Studio)"};
  cli.require_subcommand(0, 1);
  std::optional<int> threads;
  bool version = false;
  cli.add_option("--threads", threads, "torch intra-op threads (default: all hardware threads)")
      ->check(CLI::PositiveNumber);
  cli.add_flag("--version", version, "print version, libtorch and the BLAS in use");

  dpo::cli::TrainArgs train_args;
  auto* train = cli.add_subcommand("train", "run DPO on a preference dataset (default: the embedded demo)");
  dpo::cli::add_train_options(*train, train_args);

  dpo::cli::MakeDemoArgs demo_args;
  auto* make_demo = cli.add_subcommand("make-demo", "regenerate resources/demo (corpus, tokenizer, pairs)");
  dpo::cli::add_make_demo_options(*make_demo, demo_args);

  CLI11_PARSE(cli, argc, argv);
  const int used_threads = dpo::configure_threads(threads);
  try {
    if (version) {
      std::cout << dpo::version_string() << "\nBLAS: " << dpo::blas_description()
                << "\nthreads: " << used_threads << "\n";
      return 0;
    }
    if (*train) return dpo::cli::run_train(train_args);
    if (*make_demo) return dpo::cli::run_make_demo(demo_args);
    std::cout << cli.help();
    return 0;
  } catch (const dpo::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
}
