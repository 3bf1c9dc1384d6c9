#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/data/preference_pair.h"

namespace dpo {

// A tiny text world whose preferences follow simple, checkable rules: correct arithmetic beats
// wrong arithmetic, polite replies beat rude ones, happy story endings beat sad ones. Deterministic
// in `seed` on every platform (own PRNG, no std distributions).
struct DemoWorld {
  std::string corpus;                 // text for training the demo tokenizer, one sentence a line
  std::vector<PreferencePair> pairs;  // the demo preference dataset
};

DemoWorld generate_demo_world(uint64_t seed, size_t pair_count);

// One JSON object per line with keys prompt, chosen, rejected (+ score_chosen, score_rejected when
// the pair has them): the dataset file format.
std::string preference_jsonl(const std::vector<PreferencePair>& pairs);

// Sentencepiece trainer arguments that make resources/demo/tokenizer.model from corpus_path.
std::string demo_tokenizer_train_args(const std::string& corpus_path, const std::string& model_prefix);

}  // namespace dpo
