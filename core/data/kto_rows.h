#pragma once
#include <vector>

#include "core/data/preference_pair.h"
#include "core/data/tokenize.h"

namespace dpo {

// KTO examples as the trainer batches them: each row is a TokenizedPair whose `chosen_ids` is the
// example's completion and whose `rejected_ids` is a mismatched completion (of the next example, as
// TRL's KL dataset shifts them) that only feeds the KL estimate z₀. One label per row.
struct KtoRows {
  std::vector<TokenizedPair> rows;
  std::vector<bool> desirable;
};

KtoRows make_kto_rows(const std::vector<TokenizedUnpaired>& examples);
// Paired data for KTO (TRL's unpair_preference_dataset): y_w desirable, y_l undesirable.
std::vector<TokenizedUnpaired> unpair(const std::vector<TokenizedPair>& pairs);

}  // namespace dpo
