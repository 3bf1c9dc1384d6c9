#include "core/demo/demo_datasets.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include "core/data/demo_world.h"
#include "core/demo/true_reward.h"
#include "core/runtime/error.h"

namespace dpo {

namespace {

// splitmix64, as in demo_world.cpp: the same bits on every compiler and standard library.
struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
};

// Each variant draws from its own stream so adding one never changes another.
constexpr uint64_t kNoiseStream = 0x6E6F697379ULL;
constexpr uint64_t kLengthStream = 0x6C656E677468ULL;
constexpr uint64_t kEvalStream = 0x6576616CULL;

// Neutral sentences: no word of any lexicon, no digit, no "=".
constexpr std::array<const char*, 2> kArithmeticTails = {
    " I added the two numbers one by one, then I checked it.",
    " That is what you get when you put them together."};
constexpr std::array<const char*, 2> kMannersTails = {" That is what I have to say about it right now.",
                                                      " I am telling you this the way I see it."};
constexpr std::array<const char*, 2> kStoryTails = {
    " Then the long day came to an end and the night was quiet.",
    " After that the house was still, and the lamp went out."};

const char* tail_for(const std::string& prompt, Rng& rng) {
  switch (demo_task(prompt)) {
    case DemoTask::Arithmetic:
      return kArithmeticTails[rng.below(2)];
    case DemoTask::Manners:
      return kMannersTails[rng.below(2)];
    default:
      return kStoryTails[rng.below(2)];
  }
}

void add_true_scores(PreferencePair& p) {
  p.score_chosen = true_reward(p.prompt, p.chosen).reward;
  p.score_rejected = true_reward(p.prompt, p.rejected).reward;
}

}  // namespace

const std::vector<DemoDataset>& demo_datasets() {
  static const std::vector<DemoDataset> list = {
      {"clean", "preferences.jsonl", "chosen has the higher true reward (the default demo data)"},
      {"noisy", "noisy.jsonl", "the clean pairs with 25% of the labels flipped"},
      {"length-biased", "length_biased.jsonl",
       "chosen is always the longer answer, better only half the time"},
      {"unpaired", "unpaired.jsonl", "KTO rows: prompt, completion, label (chosen true, rejected false)"},
      {"scored", "scored.jsonl", "the clean pairs with score_chosen/score_rejected = true rewards"},
      {"eval", "eval.jsonl", "held-out pairs from another seed, with true-reward scores"},
  };
  return list;
}

const DemoDataset* find_demo_dataset(const std::string& name) {
  for (const auto& d : demo_datasets())
    if (d.name == name) return &d;
  return nullptr;
}

std::vector<PreferencePair> demo_clean_pairs(uint64_t seed, size_t count) {
  return generate_demo_world(seed, count).pairs;
}

std::vector<PreferencePair> demo_noisy_pairs(uint64_t seed, size_t count, double fraction,
                                             std::vector<size_t>* flipped) {
  auto pairs = demo_clean_pairs(seed, count);
  std::vector<size_t> order(pairs.size());
  std::iota(order.begin(), order.end(), size_t{0});
  Rng rng{seed ^ kNoiseStream};
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  const auto flips = static_cast<size_t>(std::llround(fraction * static_cast<double>(pairs.size())));
  std::vector<size_t> chosen(order.begin(),
                             order.begin() + static_cast<std::ptrdiff_t>(std::min(flips, order.size())));
  std::sort(chosen.begin(), chosen.end());
  for (auto i : chosen) std::swap(pairs[i].chosen, pairs[i].rejected);
  if (flipped) *flipped = chosen;
  return pairs;
}

std::vector<PreferencePair> demo_length_biased_pairs(uint64_t seed, size_t count) {
  auto pairs = demo_clean_pairs(seed, count);
  Rng rng{seed ^ kLengthStream};
  for (auto& p : pairs) {
    const bool better_is_longer = rng.below(2) == 0;
    const char* tail = tail_for(p.prompt, rng);
    if (better_is_longer) {
      p.chosen += tail;
    } else {
      std::string longer_worse = p.rejected + tail;
      p.rejected = p.chosen;
      p.chosen = std::move(longer_worse);
    }
  }
  return pairs;
}

std::vector<PreferencePair> demo_scored_pairs(uint64_t seed, size_t count) {
  auto pairs = demo_clean_pairs(seed, count);
  for (auto& p : pairs) add_true_scores(p);
  return pairs;
}

std::vector<UnpairedExample> demo_unpaired_examples(uint64_t seed, size_t count) {
  std::vector<UnpairedExample> rows;
  for (const auto& p : demo_clean_pairs(seed, count)) {
    rows.push_back({p.prompt, p.chosen, true, rows.size() + 1});
    rows.push_back({p.prompt, p.rejected, false, rows.size() + 1});
  }
  return rows;
}

std::vector<PreferencePair> demo_eval_pairs(uint64_t seed, size_t count) {
  return demo_scored_pairs(seed ^ kEvalStream, count);
}

std::string unpaired_jsonl(const std::vector<UnpairedExample>& examples) {
  std::string out;
  for (const auto& e : examples) {
    nlohmann::ordered_json row;
    row["prompt"] = e.prompt;
    row["completion"] = e.completion;
    row["label"] = e.label;
    out += row.dump() + "\n";
  }
  return out;
}

std::string demo_dataset_jsonl(const std::string& name, uint64_t seed, size_t count) {
  if (name == "clean") return preference_jsonl(demo_clean_pairs(seed, count));
  if (name == "noisy") return preference_jsonl(demo_noisy_pairs(seed, count, kDemoNoiseFraction));
  if (name == "length-biased") return preference_jsonl(demo_length_biased_pairs(seed, count));
  if (name == "unpaired") return unpaired_jsonl(demo_unpaired_examples(seed, count));
  if (name == "scored") return preference_jsonl(demo_scored_pairs(seed, count));
  if (name == "eval") return preference_jsonl(demo_eval_pairs(seed));
  throw ConfigError("demo dataset \"" + name +
                    "\": expected clean, noisy, length-biased, unpaired, scored or eval");
}

}  // namespace dpo
