#include "core/model/projection.h"

#include <torch/torch.h>

#include <cmath>

namespace dpo {

ProjectionImpl::ProjectionImpl(int64_t in_features, int64_t out_features, bool with_bias) {
  // The same initialisation as torch::nn::Linear, so models built either way match.
  weight = register_parameter("weight", torch::empty({out_features, in_features}));
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (with_bias) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
    bias = register_parameter("bias", torch::empty({out_features}).uniform_(-bound, bound));
  }
}

torch::Tensor ProjectionImpl::forward(const torch::Tensor& x) {
  auto y = torch::nn::functional::linear(x, weight, bias);
  if (has_adapter() && adapter_enabled_) {
    auto h = dropout_ > 0 ? torch::dropout(x, dropout_, is_training()) : x;
    y = y + scale_ * lora_B(lora_A(h));
  }
  return y;
}

void ProjectionImpl::add_adapter(int64_t r, double alpha, double dropout) {
  const auto device = weight.device();
  const auto dtype = weight.scalar_type();
  lora_A =
      register_module("lora_A", torch::nn::Linear(torch::nn::LinearOptions(weight.size(1), r).bias(false)));
  lora_B =
      register_module("lora_B", torch::nn::Linear(torch::nn::LinearOptions(r, weight.size(0)).bias(false)));
  torch::NoGradGuard no_grad;
  lora_B->weight.zero_();
  lora_A->to(device, dtype);
  lora_B->to(device, dtype);
  scale_ = alpha / static_cast<double>(r);
  dropout_ = dropout;
}

torch::Tensor ProjectionImpl::adapter_delta() const {
  return scale_ * torch::matmul(lora_B->weight, lora_A->weight);  // (out, r)·(r, in)
}

}  // namespace dpo
