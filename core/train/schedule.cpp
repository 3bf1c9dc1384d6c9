#include "core/train/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace dpo {

std::optional<LrSchedule> parse_lr_schedule(std::string_view name) {
  if (name == "constant") return LrSchedule::Constant;
  if (name == "linear") return LrSchedule::Linear;
  if (name == "cosine") return LrSchedule::Cosine;
  return std::nullopt;
}

std::string_view lr_schedule_name(LrSchedule schedule) {
  switch (schedule) {
    case LrSchedule::Constant:
      return "constant";
    case LrSchedule::Linear:
      return "linear";
    case LrSchedule::Cosine:
      return "cosine";
  }
  return "constant";
}

double scheduled_learning_rate(double base, int64_t step, int64_t warmup_steps, int64_t total_steps,
                               LrSchedule schedule) {
  if (step < warmup_steps)
    return base * static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup_steps));
  if (schedule == LrSchedule::Constant) return base;
  const double progress = static_cast<double>(step - warmup_steps) /
                          static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
  if (schedule == LrSchedule::Linear) return base * std::max(0.0, 1.0 - progress);
  return base * std::max(0.0, 0.5 * (1.0 + std::cos(std::numbers::pi * progress)));
}

}  // namespace dpo
