#pragma once
#include <torch/types.h>

#include <span>
#include <vector>

#include "core/data/preference_pair.h"

namespace dpo {

// B pairs as one (2B, T) batch: rows [0, B) are prompt+chosen, rows [B, 2B) prompt+rejected,
// right-padded with pad_id. The policy scores both halves in a single forward pass.
struct PreferenceBatch {
  torch::Tensor input_ids;       // (2B, T) int64
  torch::Tensor attention_mask;  // (2B, T) int64, 1 on real tokens
  torch::Tensor response_mask;   // (2B, T) float, 1 on completion tokens (not prompt, not padding)
  int64_t pairs = 0;             // B
  std::vector<int64_t> lengths;  // (2B) real tokens per row, same row order
  double padding_ratio = 0.0;    // padded share of the 2B * T slots
};

// pad_to_multiple_of > 1 rounds T up (tensor-core friendly shapes).
PreferenceBatch collate_pairs(std::span<const TokenizedPair> pairs, int64_t pad_id,
                              int64_t pad_to_multiple_of = 1);

}  // namespace dpo
