#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app/session/run_options.h"
#include "core/data/layout.h"
#include "core/data/preference_pair.h"
#include "core/data/tokenize.h"
#include "core/io/hf_folder.h"
#include "core/model/lora.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/tokenizer_config.h"
#include "core/train/trainer.h"

#include <nlohmann/json.hpp>

namespace dpo::app {

struct RunSetup {
  std::unique_ptr<Tokenizer> tokenizer;
  std::string model_label;       // folder or "tiny random Llama (demo)"
  std::string data_label;        // file path or "embedded demo"
  std::string data_explanation;  // what layout was detected and why
  size_t train_pairs = 0;
  size_t eval_pairs = 0;
  TokenizeReport tokenize_report;
  bool tokenized_from_cache = false;
  std::unique_ptr<Trainer> trainer;
  int64_t parameter_count = 0;
  int64_t trainable_parameters = 0;  // all of them, or the LoRA adapters'
  nlohmann::json raw_config;         // the model folder's config.json, kept on export
};

// Told each preparation stage as it starts ("tokenizing data", "loading the model"; done and total
// 0: not counted); returning false cancels, and prepare_run then throws dpo::Cancelled.
using PrepareProgress = std::function<bool(const std::string& stage, size_t done, size_t total)>;

// Loads data and tokenizer, tokenizes, splits off the eval pairs, builds the policy and its
// reference. Throws dpo::Error with a one-line message on bad input.
// With `communicator`, this process is one rank of a data-parallel run (core/dist).
RunSetup prepare_run(const RunOptions& options, const PrepareProgress& progress = {},
                     std::shared_ptr<dist::Communicator> communicator = nullptr);

// Export settings that write a policy like the one this run started from (config keys, tokenizer).
ExportOptions export_options(const RunSetup& setup, const RunOptions& options);
// Writes the trained policy as a Hugging Face folder (config, safetensors, tokenizer files); with
// LoRA, the merged model, plus the PEFT adapter in `adapter_dir` when that is not empty.
void save_policy(RunSetup& setup, const RunOptions& options, const std::string& dir,
                 const std::string& adapter_dir = "");

// Tokenizer files a saved policy needs beyond the model folder's own (name → bytes): the demo's, or
// the --tokenizer file; empty when the model folder has its tokenizer.
std::map<std::string, std::string> extra_tokenizer_files(const RunOptions& options);

torch::Device parse_device(const std::string& name);

// "demo:VARIANT" (clean, noisy, length-biased, unpaired, scored: core/demo/demo_datasets.h) names
// the demo's data variants; they are written once to <cache_dir>/demo/ and that file is returned.
// Any other path is returned as it is. Throws ConfigError for an unknown variant.
std::string resolve_demo_data(const std::string& path, const std::string& cache_dir = "");
inline constexpr const char* kDemoDataPrefix = "demo:";

// $DPO_CACHE_DIR, else $XDG_CACHE_HOME/dpo-studio, else ~/.cache/dpo-studio.
std::string default_cache_dir();

// How message-list rows become text, as training renders them: template_path (--chat-template),
// else the tokenizer's own template ("the chat template of <owner>" in messages), else ChatML.
struct RowRenderer {
  std::unique_ptr<ChatTemplate> chat_template;
  ChatRenderer renderer;  // points at chat_template
};
std::unique_ptr<RowRenderer> make_row_renderer(const Tokenizer& tokenizer, const TokenizerConfig& config,
                                               const std::string& template_path = "",
                                               const std::string& owner = "");

}  // namespace dpo::app
