#pragma once
#include <CLI/App.hpp>

#include <string>

#include "app/session/run_setup.h"

namespace dpo::cli {

struct TrainArgs {
  app::RunOptions run;
  std::string out_dir = "runs/latest";
  bool overwrite = false;
  bool quiet = false;
};
void add_train_options(CLI::App& cmd, TrainArgs& args);
int run_train(const TrainArgs& args);

struct MakeDemoArgs {
  std::string out_dir = "resources/demo";
};
void add_make_demo_options(CLI::App& cmd, MakeDemoArgs& args);
int run_make_demo(const MakeDemoArgs& args);

}  // namespace dpo::cli
