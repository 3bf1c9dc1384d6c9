#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/data/preference_pair.h"
#include "core/data/tokenize.h"
#include "core/io/hf_folder.h"
#include "core/model/lora.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/trainer.h"

#include <nlohmann/json.hpp>

namespace dpo::app {

// Everything a run needs from the user; empty paths mean the embedded demo. Shared by the CLI and
// the studio's worker so both build runs the same way, and saved as the run's config.json.
struct RunOptions {
  std::string data_path;
  std::string tokenizer_path;  // a file; default: the model folder's tokenizer, else the demo's
  std::string model_dir;       // Hugging Face folder; empty: a tiny random Llama for the demo
  std::string reference_dir;   // π_ref from another folder; empty: a frozen copy of the policy
  std::string device = "auto";  // "auto" (CUDA when present), "cpu", "cuda", "cuda:1"
  // Data layer (see `dpo data stats`): file format, layout and column overrides, bad-row policy.
  std::string format;
  std::string layout;
  std::string columns;
  std::string on_bad_row = "error";
  std::string chat_template_path;  // for message lists; default: the tokenizer's, else ChatML
  double eval_fraction = 0.1;      // held-out pairs (whole prompt groups) for eval steps
  uint64_t split_seed = 0;
  std::string cache_dir;  // tokenized data and reference log-probs; empty: the user cache folder
  bool no_cache = false;
  TrainerConfig trainer = default_trainer_config();
  LoraConfig lora;  // r > 0: train LoRA adapters; the base model (adapters off) is then π_ref
  TokenizeOptions tokenize;
  uint64_t model_seed = 0;  // initialisation of the (random, tiny) demo policy

  static TrainerConfig default_trainer_config();
};

// config.json of a run: every option above by name.
void to_json(nlohmann::json& j, const RunOptions& o);
void from_json(const nlohmann::json& j, RunOptions& o);

struct RunSetup {
  std::unique_ptr<Tokenizer> tokenizer;
  std::string model_label;  // folder or "tiny random Llama (demo)"
  std::string data_label;   // file path or "embedded demo"
  std::string data_explanation;  // what layout was detected and why
  size_t train_pairs = 0;
  size_t eval_pairs = 0;
  TokenizeReport tokenize_report;
  bool tokenized_from_cache = false;
  std::unique_ptr<Trainer> trainer;
  int64_t parameter_count = 0;
  int64_t trainable_parameters = 0;  // all of them, or the LoRA adapters'
  nlohmann::json raw_config;  // the model folder's config.json, kept on export
};

// Told each preparation stage as it starts ("tokenizing data", "loading the model"; done and total
// 0: not counted); returning false cancels, and prepare_run then throws dpo::Cancelled.
using PrepareProgress = std::function<bool(const std::string& stage, size_t done, size_t total)>;

// Loads data and tokenizer, tokenizes, splits off the eval pairs, builds the policy and its
// reference. Throws dpo::Error with a one-line message on bad input.
RunSetup prepare_run(const RunOptions& options, const PrepareProgress& progress = {});

// Export settings that write a policy like the one this run started from (config keys, tokenizer).
ExportOptions export_options(const RunSetup& setup, const RunOptions& options);
// Writes the trained policy as a Hugging Face folder (config, safetensors, tokenizer files); with
// LoRA, the merged model, plus the PEFT adapter in `adapter_dir` when that is not empty.
void save_policy(RunSetup& setup, const RunOptions& options, const std::string& dir,
                 const std::string& adapter_dir = "");

torch::Device parse_device(const std::string& name);

// "demo:VARIANT" (clean, noisy, length-biased, unpaired, scored: core/demo/demo_datasets.h) names
// the demo's data variants; they are written once to <cache_dir>/demo/ and that file is returned.
// Any other path is returned as it is. Throws ConfigError for an unknown variant.
std::string resolve_demo_data(const std::string& path, const std::string& cache_dir = "");
inline constexpr const char* kDemoDataPrefix = "demo:";

// $DPO_CACHE_DIR, else $XDG_CACHE_HOME/dpo-studio, else ~/.cache/dpo-studio.
std::string default_cache_dir();

}  // namespace dpo::app
