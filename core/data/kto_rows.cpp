#include "core/data/kto_rows.h"

namespace dpo {

KtoRows make_kto_rows(const std::vector<TokenizedUnpaired>& examples) {
  KtoRows out;
  const size_t n = examples.size();
  out.rows.reserve(n);
  out.desirable.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const auto& e = examples[i];
    out.rows.push_back(TokenizedPair{.prompt_ids = e.prompt_ids,
                                     .chosen_ids = e.completion_ids,
                                     .rejected_ids = examples[(i + 1) % n].completion_ids,
                                     .line = e.line,
                                     .prompt_truncated = e.prompt_truncated,
                                     .completion_truncated = e.completion_truncated});
    out.desirable.push_back(e.label);
  }
  return out;
}

std::vector<TokenizedUnpaired> unpair(const std::vector<TokenizedPair>& pairs) {
  std::vector<TokenizedUnpaired> out;
  out.reserve(2 * pairs.size());
  for (const auto& p : pairs) {
    out.push_back({p.prompt_ids, p.chosen_ids, true, p.line, p.prompt_truncated, p.completion_truncated});
    out.push_back({p.prompt_ids, p.rejected_ids, false, p.line, p.prompt_truncated, p.completion_truncated});
  }
  return out;
}

}  // namespace dpo
