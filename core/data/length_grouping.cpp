#include "core/data/length_grouping.h"

#include <algorithm>

namespace dpo {

void group_by_length(std::vector<size_t>& order, const std::vector<int64_t>& lengths, size_t batch_size) {
  if (order.empty() || batch_size == 0) return;
  const size_t mult = std::clamp<size_t>(order.size() / (4 * batch_size), 1, 50);
  const size_t mega = mult * batch_size;
  auto longer = [&](size_t a, size_t b) { return lengths[a] > lengths[b]; };
  for (size_t start = 0; start < order.size(); start += mega) {
    auto end = order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), start + mega));
    std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(start), end, longer);
  }
  // Each mega-batch starts with its longest row; move the batch of the longest overall to the front.
  size_t longest_mega = 0;
  for (size_t start = 0; start < order.size(); start += mega)
    if (lengths[order[start]] > lengths[order[longest_mega]]) longest_mega = start;
  const size_t n = std::min(batch_size, order.size() - longest_mega);
  for (size_t i = 0; i < n; ++i) std::swap(order[i], order[longest_mega + i]);
}

}  // namespace dpo
