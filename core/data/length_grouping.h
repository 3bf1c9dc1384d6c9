#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace dpo {

// Length-grouped order (transformers' get_length_grouped_indices): the shuffled order is cut into
// mega-batches of batch_size·min(50, n / (4·batch_size)) rows, each sorted longest first, so a batch
// holds rows of similar length and pads little while epochs stay shuffled. The batch holding the
// longest row goes first, so an out-of-memory shows on step 1, not hours in.
void group_by_length(std::vector<size_t>& order, const std::vector<int64_t>& lengths, size_t batch_size);

}  // namespace dpo
