#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/data/preference_pair.h"

namespace dpo {

// The demo's dataset variants, all derived from the demo world (core/data/demo_world.h) and scored
// by its ground truth (core/demo/true_reward.h). Deterministic in the seed on every platform.
struct DemoDataset {
  std::string name;         // "clean", "noisy", ... (what lessons and the CLI call it)
  std::string file;         // its file in resources/demo
  std::string description;  // one line for `dpo lesson` and the demo README
};
const std::vector<DemoDataset>& demo_datasets();
// nullptr when `name` is not a variant.
const DemoDataset* find_demo_dataset(const std::string& name);

inline constexpr double kDemoNoiseFraction = 0.25;  // labels flipped in `noisy`
inline constexpr size_t kDemoEvalPairs = 60;        // the held-out eval split

// clean: chosen has the higher true reward (the world's own pairs, = resources/demo/preferences.jsonl).
std::vector<PreferencePair> demo_clean_pairs(uint64_t seed, size_t count);
// noisy: round(fraction·N) pairs, chosen by a seeded shuffle, have chosen and rejected swapped.
// `flipped` receives their 0-based indices, ascending.
std::vector<PreferencePair> demo_noisy_pairs(uint64_t seed, size_t count, double fraction,
                                             std::vector<size_t>* flipped = nullptr);
// length-biased: a neutral sentence (no lexicon word, no number) lengthens one answer of each
// pair and that one is labelled chosen; it is the better answer for half the pairs (a fair coin).
std::vector<PreferencePair> demo_length_biased_pairs(uint64_t seed, size_t count);
// scored: the clean pairs with score_chosen / score_rejected = their true rewards.
std::vector<PreferencePair> demo_scored_pairs(uint64_t seed, size_t count);
// unpaired (KTO): each clean pair as two rows, chosen labelled true and rejected false.
std::vector<UnpairedExample> demo_unpaired_examples(uint64_t seed, size_t count);
// eval: fresh draws from another seed, with true-reward scores; never trained on.
std::vector<PreferencePair> demo_eval_pairs(uint64_t seed, size_t count = kDemoEvalPairs);

// The variant's file content: JSONL, keys in the order prompt, chosen, rejected[, score_chosen,
// score_rejected] or prompt, completion, label. Throws ConfigError for an unknown name.
std::string demo_dataset_jsonl(const std::string& name, uint64_t seed, size_t count);
std::string unpaired_jsonl(const std::vector<UnpairedExample>& examples);

}  // namespace dpo
