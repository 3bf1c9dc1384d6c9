#include "core/generate/sampling.h"

#include <torch/torch.h>

#include <limits>

namespace dpo {

namespace {
constexpr float kRemoved = -std::numeric_limits<float>::infinity();
}

void apply_repetition_penalty(torch::Tensor& logits, const std::vector<std::vector<int64_t>>& history,
                              double penalty) {
  if (penalty == 1.0) return;
  for (size_t b = 0; b < history.size(); ++b) {
    if (history[b].empty()) continue;
    auto ids = std::get<0>(torch::_unique(torch::tensor(history[b], torch::kLong))).to(logits.device());
    auto row = logits[static_cast<int64_t>(b)];
    auto seen = row.index_select(0, ids);
    // Positive logits shrink, negative ones grow: both make the token less likely.
    row.index_copy_(0, ids, torch::where(seen < 0, seen * penalty, seen / penalty));
  }
}

void apply_top_k(torch::Tensor& logits, int64_t k) {
  if (k <= 0 || k >= logits.size(-1)) return;
  auto kth = std::get<0>(logits.topk(k, -1)).narrow(-1, k - 1, 1);  // (B, 1)
  logits.masked_fill_(logits < kth, kRemoved);
}

void apply_top_p(torch::Tensor& logits, double p) {
  if (p >= 1.0) return;
  auto [sorted, order] = logits.sort(-1, /*descending=*/true);  // (B, V)
  auto probs = sorted.softmax(-1);
  // Drop a token when the tokens ranked above it already hold p of the mass; the first stays.
  auto mass_before = probs.cumsum(-1) - probs;
  auto drop_sorted = mass_before > p;
  auto drop = torch::zeros_like(drop_sorted).scatter(-1, order, drop_sorted);
  logits.masked_fill_(drop, kRemoved);
}

}  // namespace dpo
