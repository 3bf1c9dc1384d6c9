#pragma once
#include "core/model/llama.h"

namespace dpo {

// A frozen copy of `policy` (same config, same weights, no gradients, eval mode): π_ref.
LlamaForCausalLM make_frozen_reference(LlamaForCausalLM& policy);

}  // namespace dpo
