#pragma once
// Preference pairs from scored samples (issue 14, "synthetic preference pairs"): for each prompt, k
// answers with a score each become zero or more (chosen, rejected) pairs by one of the strategies the
// iterative-DPO recipes use. Torch-free; deterministic in the seed on every platform.
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace dpo {

enum class PairStrategy {
  BestVsWorst,     // the highest score against the lowest
  BestVsRandom,    // the highest score against a uniformly drawn other answer
  Random,          // a uniformly drawn pair; the higher-scored answer is chosen
  AllAboveMargin,  // every pair whose score difference reaches the minimum margin
};

// "best-vs-worst", "best-vs-random", "random", "all-above-margin"; ConfigError naming the known ones.
PairStrategy parse_pair_strategy(std::string_view name);
const char* pair_strategy_name(PairStrategy strategy);

struct ScoredAnswer {
  std::string text;
  double score = 0;    // must be finite
  int64_t length = 0;  // in the caller's unit (sample_pairs: tokens); only the length-bias report reads it
  std::vector<double> term_scores;  // each scorer term's value (provenance; the builder reads `score`)
};

struct PromptCandidates {
  std::string prompt;
  std::vector<ScoredAnswer> answers;
};

struct PairBuildOptions {
  PairStrategy strategy = PairStrategy::BestVsWorst;
  double min_margin = 0;   // score_chosen − score_rejected must reach it (≥ 0)
  bool keep_ties = false;  // pairs of equal scores (then the earlier answer is chosen)
  // Answers with byte-identical text are collapsed to their first occurrence unless this is set;
  // either way identical texts never form a pair (the readers refuse chosen == rejected and its DPO
  // gradient is zero), so this only changes how often a repeated answer is drawn or paired.
  bool keep_identical = false;
  uint64_t seed = 0;
};

// One written pair: indices into the prompt's answers.
struct BuiltPair {
  size_t prompt = 0;
  size_t chosen = 0;
  size_t rejected = 0;
};

struct PairBuildReport {
  size_t prompts = 0;
  size_t pairs = 0;
  // Answers never paired because the text is empty, only whitespace or not UTF-8 (a dataset row
  // cannot hold them), and repeats collapsed (without keep_identical).
  size_t unusable_answers = 0;
  size_t repeated_answers = 0;
  // Prompts that gave no pair, by the first reason that applies, in this order:
  size_t dropped_too_few = 0;       // fewer than 2 usable answers
  size_t dropped_identical = 0;     // ≥ 2 usable answers, all the same text
  size_t dropped_tied = 0;          // every distinct answer has the same score (ties not kept)
  size_t dropped_below_margin = 0;  // best − worst score is below min_margin
  // Of the written pairs: how often the chosen answer is the longer one (the length bias).
  size_t chosen_longer = 0;
  size_t chosen_shorter = 0;
  size_t equal_length = 0;
  size_t dropped() const { return dropped_too_few + dropped_identical + dropped_tied + dropped_below_margin; }
  // chosen_longer / pairs (0 without pairs); equal lengths count in neither share.
  double longer_share() const;
  double shorter_share() const;
};

struct PairBuildResult {
  std::vector<BuiltPair> pairs;  // by prompt, then in the strategy's order
  PairBuildReport report;
};

// Throws ConfigError for a negative or non-finite min_margin and DataError "prompt P, answer A: ..."
// (1-based) for a non-finite score.
PairBuildResult build_pairs(const std::vector<PromptCandidates>& prompts, const PairBuildOptions& options);

// Uniform in [0, n) from the 64-bit generator by rejection (no modulo bias), the same on every
// standard library, unlike std::uniform_int_distribution. n > 0.
size_t uniform_index(std::mt19937_64& rng, size_t n);

// The generator of one prompt: seeded from (seed, prompt) so a prompt's draw does not depend on the
// prompts before it.
std::mt19937_64 prompt_rng(uint64_t seed, size_t prompt);

}  // namespace dpo
