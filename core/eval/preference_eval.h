#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <limits>
#include <vector>

#include "core/data/preference_pair.h"
#include "core/model/llama.h"
#include "core/train/losses.h"
#include "core/train/reference_logps.h"
#include "core/types/eval_records.h"

namespace dpo {

// reference: forward pass source when `cached` is null. margins: score_w − score_l per pair (empty: none).
PreferenceEval evaluate_preferences(LlamaForCausalLM& policy, LlamaForCausalLM* reference,
                                    const std::vector<TokenizedPair>& pairs, int64_t pad_id,
                                    const LossConfig& loss, int64_t batch_size = 16,
                                    const ReferenceLogps* cached = nullptr,
                                    const std::vector<double>& margins = {});

// TRL's eval log names: "eval_loss", "eval_rewards/margins", ...; per-pair records for pairs.jsonl.
void to_json(nlohmann::json& j, const PreferenceEval& e);
void from_json(const nlohmann::json& j, PreferenceEval& e);
void to_json(nlohmann::json& j, const PairRecord& r);
void from_json(const nlohmann::json& j, PairRecord& r);

}  // namespace dpo
