#pragma once
#include <CLI/App.hpp>

#include <optional>
#include <string>
#include <vector>

#include "app/session/run_setup.h"

namespace dpo::cli {

struct TrainArgs {
  app::RunOptions run;
  std::string out_dir = "runs/latest";
  std::string resume_dir;        // continue RUN from its newest complete checkpoint
  int64_t checkpoint_every = 0;  // 0: only the final model
  int64_t keep_checkpoints = 3;
  bool overwrite = false;
  bool quiet = false;
  bool print_config = false;       // --print-config: the resolved run settings as JSON, no run
  bool steps_given = false;        // --steps on the command line
  std::vector<std::string> given;  // the flags on the command line ("--lr", ...)
  int nproc = 1;                   // --nproc: local data-parallel processes
  double dist_timeout = 300;       // --dist-timeout: seconds a rank may stay silent in a collective
};
// A flag of `dpo train`/`dpo sft` that --resume knows how to treat (a run setting or per invocation).
bool is_known_train_flag(const std::string& name);
// `dpo train` (DPO and variants) and `dpo sft` (objective preset to SFT) share their options.
void add_train_options(CLI::App& cmd, TrainArgs& args, bool sft = false);
int run_train(TrainArgs args);

struct GenerateArgs {
  std::string model_dir;
  std::vector<std::string> prompts;
  int64_t max_new_tokens = 64;
  double temperature = 0.0;
  int64_t top_k = 0;
  double top_p = 1.0;
  double repetition_penalty = 1.0;
  uint64_t seed = 0;
  std::vector<std::string> stop;
  std::string device = "cpu";
  bool json = false;
};
void add_generate_options(CLI::App& cmd, GenerateArgs& args);
int run_generate(const GenerateArgs& args);

struct TokenizeArgs {
  std::string source;  // tokenizer file or model folder
  bool no_special = false;
  bool json = false;
  bool decode = false;
};
void add_tokenize_options(CLI::App& cmd, TokenizeArgs& args);
int run_tokenize(const TokenizeArgs& args);

struct InspectArgs {
  std::string model_dir;
  bool json = false;
};
void add_inspect_options(CLI::App& cmd, InspectArgs& args);
int run_inspect(const InspectArgs& args);

struct ExportArgs {
  std::string from;
  std::string to;
  std::string dtype;
  std::string max_shard_size = "5GB";
  bool overwrite = false;
};
void add_export_options(CLI::App& cmd, ExportArgs& args);
int run_export(const ExportArgs& args);

struct MakeDemoArgs {
  std::string out_dir = "resources/demo";
};
void add_make_demo_options(CLI::App& cmd, MakeDemoArgs& args);
int run_make_demo(const MakeDemoArgs& args);

struct DiagnoseArgs {
  std::string path;  // run directory or metrics.jsonl
  std::optional<double> beta;
  bool json = false;
};
void add_diagnose_options(CLI::App& cmd, DiagnoseArgs& args);
int run_diagnose(const DiagnoseArgs& args);

}  // namespace dpo::cli
