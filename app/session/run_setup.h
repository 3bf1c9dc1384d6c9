#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/data/preference_pair.h"
#include "core/data/tokenize.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/trainer.h"

namespace dpo::app {

// Everything a run needs from the user; empty paths mean the embedded demo. Shared by the CLI and
// the studio's worker so both build runs the same way.
struct RunOptions {
  std::string data_path;
  std::string tokenizer_path;
  TrainerConfig trainer = default_trainer_config();
  TokenizeOptions tokenize;
  uint64_t model_seed = 0;  // initialisation of the (random, tiny) demo policy

  static TrainerConfig default_trainer_config();
};

struct RunSetup {
  std::unique_ptr<Tokenizer> tokenizer;
  std::vector<PreferencePair> pairs;
  std::unique_ptr<Trainer> trainer;
  std::string data_label;   // file path or "embedded demo"
  int64_t parameter_count = 0;
};

// Loads data and tokenizer, tokenizes, builds the policy and its frozen reference.
// Throws dpo::Error with a one-line message on bad input.
RunSetup prepare_run(const RunOptions& options);

}  // namespace dpo::app
