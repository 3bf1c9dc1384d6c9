#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

#include "core/data/length_grouping.h"

TEST(LengthGrouping, SortsMegaBatchesLongestFirstAndKeepsEveryRow) {
  // 16 rows, batch 2: mega-batches of 2·min(50, 16/8) = 4 rows.
  std::vector<int64_t> lengths{5, 9, 1, 7, 3, 8, 2, 6, 4, 30, 10, 11, 12, 13, 14, 15};
  std::vector<size_t> order(16);
  std::iota(order.begin(), order.end(), size_t{0});
  dpo::group_by_length(order, lengths, 2);
  // Sorted quarters: {1,3,0,4} {5,7,6,... } — rows 8..11 hold the longest (30), so that batch leads.
  EXPECT_EQ(order[0], 9u);   // length 30
  EXPECT_EQ(order[1], 11u);  // then 11: the longest mega-batch's first batch moved to the front
  std::vector<size_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < 16; ++i) EXPECT_EQ(sorted[i], i);
  // Within the first mega-batch (moved rows aside) lengths do not increase.
  EXPECT_GE(lengths[order[2]], lengths[order[3]]);
}
