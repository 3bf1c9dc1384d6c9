#include "app/session/run_setup.h"

#include <torch/torch.h>

#include "core/data/jsonl_reader.h"
#include "core/model/llama.h"
#include "core/tokenizer/sentencepiece_tokenizer.h"
#include "resources/demo_assets.h"

namespace dpo::app {

TrainerConfig RunOptions::default_trainer_config() {
  TrainerConfig c;
  c.loss.beta = 0.1;
  c.learning_rate = 1e-3;
  c.batch_size = 8;
  c.max_steps = 200;
  c.seed = 0;
  return c;
}

RunSetup prepare_run(const RunOptions& options) {
  RunSetup setup;
  if (options.tokenizer_path.empty()) {
    setup.tokenizer = SentencePieceTokenizer::from_bytes(resources::demo_tokenizer_model(), "embedded demo tokenizer");
  } else {
    setup.tokenizer = SentencePieceTokenizer::from_file(options.tokenizer_path);
  }
  if (options.data_path.empty()) {
    setup.pairs = parse_preference_jsonl(resources::demo_preferences_jsonl(), "embedded demo data");
    setup.data_label = "embedded demo";
  } else {
    setup.pairs = read_preference_jsonl(options.data_path);
    setup.data_label = options.data_path;
  }
  auto tokenized = tokenize_pairs(*setup.tokenizer, setup.pairs, options.tokenize);

  auto config = LlamaConfig::tiny(setup.tokenizer->vocab_size());
  config.bos_token_id = setup.tokenizer->bos_id().value_or(-1);
  config.eos_token_id = setup.tokenizer->eos_id().value_or(-1);
  const int64_t pad_id = setup.tokenizer->pad_id().value_or(setup.tokenizer->eos_id().value_or(0));
  config.pad_token_id = pad_id;
  torch::manual_seed(options.model_seed);
  LlamaForCausalLM policy(config);
  initialise_weights(policy);
  setup.parameter_count = config.parameter_count();
  setup.trainer = std::make_unique<Trainer>(policy, std::move(tokenized), pad_id, options.trainer);
  return setup;
}

}  // namespace dpo::app
