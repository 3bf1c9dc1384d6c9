#include "core/model/mlp.h"

#include <torch/torch.h>

namespace dpo {

MLPImpl::MLPImpl(int64_t hidden, int64_t intermediate) {
  auto linear = [](int64_t in, int64_t out) {
    return Projection(in, out, false);
  };
  gate_proj = register_module("gate_proj", linear(hidden, intermediate));
  up_proj = register_module("up_proj", linear(hidden, intermediate));
  down_proj = register_module("down_proj", linear(intermediate, hidden));
}

torch::Tensor MLPImpl::forward(const torch::Tensor& x) {
  return down_proj(torch::silu(gate_proj(x)) * up_proj(x));
}

}  // namespace dpo
