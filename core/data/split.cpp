#include "core/data/split.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <unordered_map>

#include "core/runtime/error.h"

namespace dpo {

namespace {

// The order prompt groups are taken in. Not xxhash (core/io/hash.h) on purpose: a split seed must hold
// out the same pairs in every version, so this 8-byte-word, splitmix-style mix stays as it was.
class SplitHasher {
 public:
  explicit SplitHasher(uint64_t seed) : h_(seed ^ 0x243F6A8885A308D3ULL) {}
  void update(const char* data, size_t n) {
    length_ += n;
    while (n > 0) {
      const size_t take = std::min(n, 8 - fill_);
      std::memcpy(word_ + fill_, data, take);
      fill_ += take;
      data += take;
      n -= take;
      if (fill_ == 8) {
        uint64_t w;
        std::memcpy(&w, word_, 8);
        mix(w);
        fill_ = 0;
      }
    }
  }
  uint64_t finish() {
    uint64_t w = 0;
    std::memcpy(&w, word_, fill_);
    mix(w ^ (static_cast<uint64_t>(fill_) << 56));
    mix(length_);
    uint64_t z = h_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

 private:
  void mix(uint64_t w) {
    h_ ^= w * 0x9E3779B97F4A7C15ULL;
    h_ = ((h_ << 31) | (h_ >> 33)) * 0xBF58476D1CE4E5B9ULL;
  }
  uint64_t h_;
  uint64_t length_ = 0;
  char word_[8] = {};
  size_t fill_ = 0;
};

uint64_t prompt_key(std::string_view prompt, uint64_t seed) {
  SplitHasher h(seed);
  h.update(prompt.data(), prompt.size());
  return h.finish();
}

}  // namespace

SplitIndices split_by_prompt(const std::vector<std::string_view>& prompts, double eval_fraction,
                             uint64_t seed) {
  if (!(eval_fraction >= 0.0 && eval_fraction < 1.0))
    throw ConfigError("eval_fraction must be in [0, 1), got " + std::to_string(eval_fraction));
  std::unordered_map<std::string_view, std::vector<size_t>> groups;
  for (size_t i = 0; i < prompts.size(); ++i) groups[prompts[i]].push_back(i);
  struct Group {
    uint64_t key;
    std::string_view prompt;
    const std::vector<size_t>* rows;
  };
  std::vector<Group> order;
  order.reserve(groups.size());
  for (const auto& [prompt, rows] : groups) order.push_back({prompt_key(prompt, seed), prompt, &rows});
  std::sort(order.begin(), order.end(), [](const Group& a, const Group& b) {
    return a.key != b.key ? a.key < b.key : a.prompt < b.prompt;
  });
  size_t target = static_cast<size_t>(std::llround(eval_fraction * static_cast<double>(prompts.size())));
  if (eval_fraction > 0.0) target = std::max<size_t>(target, 1);
  SplitIndices out;
  std::vector<bool> in_eval(prompts.size(), false);
  size_t taken = 0;
  for (size_t g = 0; g + 1 < order.size() && taken < target; ++g) {
    for (auto i : *order[g].rows) in_eval[i] = true;
    taken += order[g].rows->size();
  }
  for (size_t i = 0; i < prompts.size(); ++i) (in_eval[i] ? out.eval : out.train).push_back(i);
  return out;
}

namespace {
template <typename T, typename Out>
Out split_rows(const std::vector<T>& rows, double eval_fraction, uint64_t seed) {
  std::vector<std::string_view> prompts;
  prompts.reserve(rows.size());
  for (const auto& r : rows) prompts.push_back(r.prompt);
  const auto idx = split_by_prompt(prompts, eval_fraction, seed);
  Out out;
  for (auto i : idx.train) out.train.push_back(rows[i]);
  for (auto i : idx.eval) out.eval.push_back(rows[i]);
  return out;
}
}  // namespace

PairSplit split_pairs(const std::vector<PreferencePair>& pairs, double eval_fraction, uint64_t seed) {
  return split_rows<PreferencePair, PairSplit>(pairs, eval_fraction, seed);
}

UnpairedSplit split_unpaired(const std::vector<UnpairedExample>& examples, double eval_fraction,
                             uint64_t seed) {
  return split_rows<UnpairedExample, UnpairedSplit>(examples, eval_fraction, seed);
}

}  // namespace dpo
