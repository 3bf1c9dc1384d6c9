#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>

#include "core/types/step_metrics.h"

namespace dpo {

// Keys as in TRL logs: "rewards/chosen", "logps/rejected", "length/chosen", ...
void to_json(nlohmann::json& j, const StepMetrics& m);
void from_json(const nlohmann::json& j, StepMetrics& m);

}  // namespace dpo
