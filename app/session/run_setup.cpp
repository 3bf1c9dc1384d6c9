#include "app/session/run_setup.h"

#include <torch/torch.h>

#include <filesystem>

#include "core/data/jsonl_reader.h"
#include "core/data/layout.h"
#include "core/io/atomic_file.h"
#include "core/io/hf_folder.h"
#include "core/model/llama.h"
#include "core/runtime/error.h"
#include "core/tokenizer/load_tokenizer.h"
#include "core/tokenizer/sentencepiece_tokenizer.h"
#include "resources/demo_assets.h"

namespace dpo::app {

namespace fs = std::filesystem;

TrainerConfig RunOptions::default_trainer_config() {
  TrainerConfig c;
  c.loss.beta = 0.1;
  c.learning_rate = 1e-3;
  c.batch_size = 8;
  c.max_steps = 200;
  c.seed = 0;
  return c;
}

torch::Device parse_device(const std::string& name) {
  try {
    torch::Device device(name);
    if (device.is_cuda() && !torch::cuda::is_available())
      throw ConfigError("device \"" + name + "\": CUDA is not available in this build or on this machine");
    return device;
  } catch (const c10::Error&) {
    throw ConfigError("device \"" + name + "\": expected cpu, cuda or cuda:N");
  }
}

RunSetup prepare_run(const RunOptions& options) {
  RunSetup setup;
  const auto device = parse_device(options.device);
  bool add_bos = true;
  if (!options.tokenizer_path.empty() || !options.model_dir.empty()) {
    auto loaded = load_tokenizer(options.tokenizer_path.empty() ? fs::path(options.model_dir) : fs::path(options.tokenizer_path));
    add_bos = loaded.add_bos;
    setup.tokenizer = std::move(loaded.tokenizer);
  } else {
    setup.tokenizer = SentencePieceTokenizer::from_bytes(resources::demo_tokenizer_model(), "embedded demo tokenizer");
  }
  if (options.data_path.empty()) {
    setup.pairs = parse_preference_jsonl(resources::demo_preferences_jsonl(), "embedded demo data");
    setup.data_label = "embedded demo";
  } else {
    // Any file format and string layout the data layer knows (message lists need a chat template:
    // `dpo data stats` handles those; training with templates arrives with the trainer issue).
    auto dataset = load_preference_dataset(options.data_path);
    if (dataset.pairs.empty())
      throw DataError(options.data_path + ": no preference pairs (" + dataset.explanation + ")");
    setup.pairs = std::move(dataset.pairs);
    setup.data_label = options.data_path;
  }
  auto tokenize = options.tokenize;
  tokenize.add_bos = add_bos;
  auto tokenized = tokenize_pairs(*setup.tokenizer, setup.pairs, tokenize);

  LlamaForCausalLM policy{nullptr};
  if (!options.model_dir.empty()) {
    auto loaded = load_hf_model(options.model_dir, {.dtype = torch::kFloat32, .device = device});
    policy = loaded.model;
    setup.raw_config = loaded.raw_config;
    setup.model_label = options.model_dir;
    if (loaded.config.vocab_size < setup.tokenizer->vocab_size())
      throw ConfigError(options.model_dir + ": tokenizer has " + std::to_string(setup.tokenizer->vocab_size()) +
                        " tokens but the model's vocab_size is " + std::to_string(loaded.config.vocab_size));
  } else {
    auto config = LlamaConfig::tiny(setup.tokenizer->vocab_size());
    config.bos_token_id = setup.tokenizer->bos_id().value_or(-1);
    config.eos_token_id = setup.tokenizer->eos_id().value_or(-1);
    config.pad_token_id = setup.tokenizer->pad_id().value_or(-1);
    torch::manual_seed(options.model_seed);
    policy = LlamaForCausalLM(config);
    initialise_weights(policy);
    policy->to(device);
    setup.model_label = "tiny random Llama (demo)";
  }
  setup.parameter_count = policy->config().parameter_count();
  const int64_t pad_id = setup.tokenizer->pad_id().value_or(setup.tokenizer->eos_id().value_or(0));
  setup.trainer = std::make_unique<Trainer>(policy, std::move(tokenized), pad_id, options.trainer);
  return setup;
}

void save_policy(RunSetup& setup, const RunOptions& options, const std::string& dir) {
  ExportOptions exported;
  exported.raw_config = setup.raw_config;
  exported.overwrite = true;
  if (!options.model_dir.empty()) exported.tokenizer_from = options.model_dir;
  export_hf_model(setup.trainer->policy(), dir, exported);
  if (options.model_dir.empty() && options.tokenizer_path.empty()) {
    write_file_atomically(fs::path(dir) / "tokenizer.model", resources::demo_tokenizer_model());
    write_file_atomically(fs::path(dir) / "tokenizer_config.json",
                          R"({"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>",)"
                          R"( "add_bos_token": true, "tokenizer_class": "LlamaTokenizer"})"
                          "\n");
  } else if (!options.tokenizer_path.empty()) {
    const fs::path t = options.tokenizer_path;
    fs::copy_file(t, fs::path(dir) / (t.extension() == ".json" ? "tokenizer.json" : "tokenizer.model"),
                  fs::copy_options::overwrite_existing);
  }
}

}  // namespace dpo::app
