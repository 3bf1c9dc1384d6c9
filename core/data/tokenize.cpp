#include "core/data/tokenize.h"

#include <algorithm>

namespace dpo {

namespace {
std::vector<int64_t> widen(const std::vector<int>& ids) { return {ids.begin(), ids.end()}; }
}  // namespace

TokenizedPair tokenize_pair(const Tokenizer& tokenizer, const PreferencePair& pair,
                            const TokenizeOptions& options) {
  TokenizedPair out;
  out.line = pair.line;
  out.prompt_ids = widen(tokenizer.encode(pair.prompt));
  out.chosen_ids = widen(tokenizer.encode(pair.chosen));
  out.rejected_ids = widen(tokenizer.encode(pair.rejected));
  if (auto eos = tokenizer.eos_id()) {
    out.chosen_ids.push_back(*eos);
    out.rejected_ids.push_back(*eos);
  }
  const auto bos = options.add_bos ? tokenizer.bos_id() : std::nullopt;
  const int64_t bos_slots = bos ? 1 : 0;
  const int64_t prompt_budget = std::max<int64_t>(0, options.max_prompt_length - bos_slots);
  if (static_cast<int64_t>(out.prompt_ids.size()) > prompt_budget) {
    out.prompt_ids.erase(out.prompt_ids.begin(), out.prompt_ids.end() - prompt_budget);  // keep end
  }
  if (bos) out.prompt_ids.insert(out.prompt_ids.begin(), *bos);
  const int64_t completion_budget =
      std::max<int64_t>(1, options.max_length - static_cast<int64_t>(out.prompt_ids.size()));
  for (auto* ids : {&out.chosen_ids, &out.rejected_ids}) {
    if (static_cast<int64_t>(ids->size()) > completion_budget) ids->resize(completion_budget);
  }
  return out;
}

std::vector<TokenizedPair> tokenize_pairs(const Tokenizer& tokenizer,
                                          const std::vector<PreferencePair>& pairs,
                                          const TokenizeOptions& options) {
  std::vector<TokenizedPair> out;
  out.reserve(pairs.size());
  for (const auto& pair : pairs) out.push_back(tokenize_pair(tokenizer, pair, options));
  return out;
}

}  // namespace dpo
