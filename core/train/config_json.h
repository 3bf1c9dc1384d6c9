#pragma once
#include <nlohmann/json_fwd.hpp>

#include "core/train/losses.h"
#include "core/train/trainer.h"

namespace dpo {

// Every hyper-parameter by name, for a run's config.json; from_json fills what is present and
// throws ConfigError naming the key on a bad value.
void to_json(nlohmann::json& j, const LossConfig& c);
void from_json(const nlohmann::json& j, LossConfig& c);
void to_json(nlohmann::json& j, const TrainerConfig& c);
void from_json(const nlohmann::json& j, TrainerConfig& c);

}  // namespace dpo
