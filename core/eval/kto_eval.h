#pragma once
#include <cstdint>
#include <vector>

#include "core/data/preference_pair.h"
#include "core/eval/preference_eval.h"
#include "core/model/llama.h"
#include "core/train/losses.h"
#include "core/train/reference_logps.h"

namespace dpo {

// KTO's evaluation of labelled rows (core/data/kto_rows.h; desirable: one label per row): the mean
// loss and accuracy over all rows, chosen-side means over desirable rows, rejected-side over
// undesirable ones. reference: forward pass source when `cached` is null.
PreferenceEval evaluate_kto(LlamaForCausalLM& policy, LlamaForCausalLM* reference,
                            const std::vector<TokenizedPair>& rows, const std::vector<bool>& desirable,
                            int64_t pad_id, const LossConfig& loss, int64_t batch_size = 16,
                            const ReferenceLogps* cached = nullptr);

}  // namespace dpo
