#pragma once
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace dpo {

// y = x / sqrt(mean(x²) + eps) · weight, computed in float32 as Hugging Face Llama does.
class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

}  // namespace dpo
