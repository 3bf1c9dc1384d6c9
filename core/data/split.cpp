#include "core/data/split.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_map>

#include "core/data/readers.h"
#include "core/runtime/error.h"

namespace dpo {

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
  for (const auto& [prompt, rows] : groups) order.push_back({hash_bytes(prompt, seed), prompt, &rows});
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
