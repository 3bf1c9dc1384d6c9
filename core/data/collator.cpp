#include "core/data/collator.h"

#include <torch/torch.h>

#include <algorithm>

namespace dpo {

PreferenceBatch collate_pairs(std::span<const TokenizedPair> pairs, int64_t pad_id) {
  const int64_t B = static_cast<int64_t>(pairs.size());
  int64_t T = 1;
  for (const auto& p : pairs) {
    const auto prompt = static_cast<int64_t>(p.prompt_ids.size());
    T = std::max({T, prompt + static_cast<int64_t>(p.chosen_ids.size()),
                  prompt + static_cast<int64_t>(p.rejected_ids.size())});
  }
  auto ids = torch::full({2 * B, T}, pad_id, torch::kLong);
  auto attention = torch::zeros({2 * B, T}, torch::kLong);
  auto response = torch::zeros({2 * B, T}, torch::kFloat32);
  auto ids_a = ids.accessor<int64_t, 2>();
  auto att_a = attention.accessor<int64_t, 2>();
  auto resp_a = response.accessor<float, 2>();
  for (int64_t i = 0; i < B; ++i) {
    const auto& p = pairs[static_cast<size_t>(i)];
    for (int64_t half = 0; half < 2; ++half) {
      const auto& completion = half == 0 ? p.chosen_ids : p.rejected_ids;
      const int64_t row = half * B + i;
      int64_t t = 0;
      for (auto id : p.prompt_ids) {
        ids_a[row][t] = id;
        att_a[row][t++] = 1;
      }
      for (auto id : completion) {
        ids_a[row][t] = id;
        att_a[row][t] = 1;
        resp_a[row][t++] = 1.0f;
      }
    }
  }
  return {ids, attention, response, B};
}

}  // namespace dpo
