#include "core/demo/demo_model.h"

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "core/data/tokenize.h"
#include "core/train/trainer.h"

namespace dpo {

LlamaConfig demo_model_config(const Tokenizer& tokenizer) {
  // The same shape as the tiny demo Llama before it was trained (118,080 parameters with the demo
  // tokenizer): small enough that a lesson runs in seconds on a laptop CPU.
  LlamaConfig c = LlamaConfig::tiny(tokenizer.vocab_size());
  c.bos_token_id = tokenizer.bos_id().value_or(-1);
  c.eos_token_id = tokenizer.eos_id().value_or(-1);
  c.pad_token_id = tokenizer.pad_id().value_or(-1);
  return c;
}

LlamaForCausalLM train_demo_model(const Tokenizer& tokenizer, const std::vector<PreferencePair>& pairs,
                                  const DemoModelOptions& options,
                                  const std::function<void(int64_t, double)>& progress) {
  torch::manual_seed(options.seed);
  LlamaForCausalLM model(demo_model_config(tokenizer));
  initialise_weights(model);
  TrainerConfig config;
  config.objective = Objective::Sft;
  config.learning_rate = options.learning_rate;
  config.schedule = LrSchedule::Cosine;
  config.warmup_steps = options.steps / 20;
  config.batch_size = options.batch_size;
  config.max_steps = options.steps;
  config.seed = options.seed;
  config.measure_sampled_length = false;
  // Both answers of every pair are SFT targets: like a model pretrained on text of any quality, the
  // reference writes good and bad answers alike, and preference learning has something to steer.
  std::vector<PreferencePair> targets;
  for (const auto& p : pairs) {
    targets.push_back({p.prompt, p.chosen, p.chosen, p.line});
    targets.push_back({p.prompt, p.rejected, p.rejected, p.line});
  }
  const auto tokenized = tokenize_pairs(tokenizer, targets, TokenizeOptions{});
  const int64_t pad = tokenizer.pad_id().value_or(tokenizer.eos_id().value_or(0));
  Trainer trainer(model, tokenized, pad, config);
  while (!trainer.finished()) {
    const auto m = trainer.step();
    if (progress) progress(m.step, m.loss);
  }
  model->eval();
  return model;
}

std::string demo_tokenizer_config_json() {
  nlohmann::ordered_json j;
  j["bos_token"] = "<s>";
  j["eos_token"] = "</s>";
  j["pad_token"] = "<pad>";
  j["unk_token"] = "<unk>";
  j["add_bos_token"] = true;
  j["add_eos_token"] = false;
  j["tokenizer_class"] = "LlamaTokenizer";
  j["model_max_length"] = 256;
  j["chat_template"] =
      "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'assistant' %}"
      "{{ ' ' + message['content'] + eos_token }}{% else %}{{ message['content'] }}{% endif %}{% endfor %}";
  return j.dump(2) + "\n";
}

}  // namespace dpo
