#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/types/train_config.h"

namespace dpo {

std::optional<LrSchedule> parse_lr_schedule(std::string_view name);  // "constant", "linear", "cosine"
std::string_view lr_schedule_name(LrSchedule schedule);

// Learning rate of optimiser step `step` (0-based), as transformers' get_{constant,linear,cosine}_
// schedule_with_warmup compute it: a linear ramp step/warmup for step < warmup (so the first step
// of a warmed-up run uses 0, exactly as in TRL), then constant, linear decay to 0 at total_steps, or
// half a cosine to 0.
double scheduled_learning_rate(double base, int64_t step, int64_t warmup_steps, int64_t total_steps,
                               LrSchedule schedule);

}  // namespace dpo
