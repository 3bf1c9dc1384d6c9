#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/data/preference_pair.h"
#include "core/data/tokenize.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/trainer.h"

#include <nlohmann/json.hpp>

namespace dpo::app {

// Everything a run needs from the user; empty paths mean the embedded demo. Shared by the CLI and
// the studio's worker so both build runs the same way.
struct RunOptions {
  std::string data_path;
  std::string tokenizer_path;  // a file; default: the model folder's tokenizer, else the demo's
  std::string model_dir;       // Hugging Face folder; empty: a tiny random Llama for the demo
  std::string device = "cpu";  // "cpu", "cuda", "cuda:1"
  TrainerConfig trainer = default_trainer_config();
  TokenizeOptions tokenize;
  uint64_t model_seed = 0;  // initialisation of the (random, tiny) demo policy

  static TrainerConfig default_trainer_config();
};

struct RunSetup {
  std::unique_ptr<Tokenizer> tokenizer;
  std::string model_label;  // folder or "tiny random Llama (demo)"
  std::vector<PreferencePair> pairs;
  std::unique_ptr<Trainer> trainer;
  std::string data_label;   // file path or "embedded demo"
  int64_t parameter_count = 0;
  nlohmann::json raw_config;  // the model folder's config.json, kept on export
};

// Loads data and tokenizer, tokenizes, builds the policy and its frozen reference.
// Throws dpo::Error with a one-line message on bad input.
RunSetup prepare_run(const RunOptions& options);

// Writes the trained policy as a Hugging Face folder (config, safetensors, tokenizer files).
void save_policy(RunSetup& setup, const RunOptions& options, const std::string& dir);

torch::Device parse_device(const std::string& name);

}  // namespace dpo::app
