#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/data/preference_pair.h"
#include "core/model/llama.h"
#include "core/tokenizer/tokenizer.h"

namespace dpo {

// The demo's reference policy: a small Llama fitted by SFT (the project's own Objective::Sft
// trainer) on prompt + answer for both answers of the clean demo pairs, so it writes correct and
// wrong sums, polite and rude replies, happy and sad endings: the true reward of its samples is
// middling and DPO can raise it. Deterministic for a seed with a fixed thread count.
struct DemoModelOptions {
  int64_t steps = 600;
  int64_t batch_size = 16;
  double learning_rate = 3e-3;
  uint64_t seed = 0;  // initialisation and data order
};

LlamaConfig demo_model_config(const Tokenizer& tokenizer);

// progress(step, loss) after each optimiser step.
LlamaForCausalLM train_demo_model(const Tokenizer& tokenizer, const std::vector<PreferencePair>& pairs,
                                  const DemoModelOptions& options,
                                  const std::function<void(int64_t, double)>& progress = nullptr);

// tokenizer_config.json of the demo folder, with a chat template that renders a user turn as the
// raw demo prompt and an assistant turn as " answer</s>".
std::string demo_tokenizer_config_json();

}  // namespace dpo
