#include "core/data/collator.h"

#include <torch/torch.h>

#include <algorithm>

namespace dpo {

PreferenceBatch collate_pairs(std::span<const TokenizedPair> pairs, int64_t pad_id,
                              int64_t pad_to_multiple_of) {
  const int64_t B = static_cast<int64_t>(pairs.size());
  int64_t T = 1;
  for (const auto& p : pairs) {
    const auto prompt = static_cast<int64_t>(p.prompt_ids.size());
    T = std::max({T, prompt + static_cast<int64_t>(p.chosen_ids.size()),
                  prompt + static_cast<int64_t>(p.rejected_ids.size())});
  }
  if (pad_to_multiple_of > 1) T = (T + pad_to_multiple_of - 1) / pad_to_multiple_of * pad_to_multiple_of;
  std::vector<int64_t> lengths(static_cast<size_t>(2 * B), 0);
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
      lengths[static_cast<size_t>(row)] = t;
    }
  }
  int64_t real = 0;
  for (auto n : lengths) real += n;
  const double slots = static_cast<double>(2 * B * T);
  return {ids, attention,          response,
          B,   std::move(lengths), slots > 0 ? 1.0 - static_cast<double>(real) / slots : 0.0};
}

}  // namespace dpo
