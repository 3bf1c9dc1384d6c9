#pragma once
// What a run needs from the user, torch-free: the CLI fills it from flags, the studio from its form,
// and a run folder's config.json holds it.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>

#include "core/types/run_parts.h"
#include "core/types/train_config.h"

namespace dpo::app {

// Everything a run needs from the user; empty paths mean the embedded demo. Shared by the CLI and
// the studio's worker so both build runs the same way, and saved as the run's config.json.
struct RunOptions {
  std::string data_path;
  std::string tokenizer_path;   // a file; default: the model folder's tokenizer, else the demo's
  std::string model_dir;        // Hugging Face folder; empty: a tiny random Llama for the demo
  std::string reference_dir;    // π_ref from another folder; empty: a frozen copy of the policy
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

}  // namespace dpo::app
