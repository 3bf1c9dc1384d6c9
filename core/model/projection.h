#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace dpo {

// A bias-optional linear layer with the parameter names of torch::nn::Linear ("weight", "bias"),
// which can carry a LoRA adapter (Hu et al. 2021): y = x·Wᵀ + b + (α/r)·dropout(x)·Aᵀ·Bᵀ, with
// A = lora_A.weight (r, in) and B = lora_B.weight (out, r) named as PEFT saves them.
class ProjectionImpl : public torch::nn::Module {
 public:
  ProjectionImpl(int64_t in_features, int64_t out_features, bool bias);
  torch::Tensor forward(const torch::Tensor& x);

  // A as torch::nn::Linear initialises it (Kaiming-uniform, PEFT's default), B zero: the adapter
  // starts as the identity change.
  void add_adapter(int64_t r, double alpha, double dropout);
  bool has_adapter() const { return !lora_A.is_empty(); }
  // (out, in): (α/r)·B·A, the change the adapter makes to W.
  torch::Tensor adapter_delta() const;
  void set_adapter_enabled(bool on) { adapter_enabled_ = on; }

  torch::Tensor weight, bias;  // (out, in), (out) or undefined
  torch::nn::Linear lora_A{nullptr}, lora_B{nullptr};

 private:
  double scale_ = 0, dropout_ = 0;
  bool adapter_enabled_ = true;
};
TORCH_MODULE(Projection);

}  // namespace dpo
