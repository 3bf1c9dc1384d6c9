#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/data/preference_pair.h"

namespace dpo {

// Row indices (ascending) of a train/eval split.
struct SplitIndices {
  std::vector<size_t> train;
  std::vector<size_t> eval;
};

// Deterministic in (prompts, eval_fraction, seed) and independent of row order: whole prompt groups go
// to one side, in the order of a seeded hash of the prompt, until eval holds round(fraction * n) rows
// (at least one when fraction > 0). The same prompt is never on both sides; train keeps at least one
// group. ConfigError for a fraction outside [0, 1).
SplitIndices split_by_prompt(const std::vector<std::string_view>& prompts, double eval_fraction,
                             uint64_t seed);

struct PairSplit {
  std::vector<PreferencePair> train;
  std::vector<PreferencePair> eval;
};
PairSplit split_pairs(const std::vector<PreferencePair>& pairs, double eval_fraction, uint64_t seed);

struct UnpairedSplit {
  std::vector<UnpairedExample> train;
  std::vector<UnpairedExample> eval;
};
UnpairedSplit split_unpaired(const std::vector<UnpairedExample>& examples, double eval_fraction,
                             uint64_t seed);

}  // namespace dpo
