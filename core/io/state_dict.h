#pragma once
#include <torch/nn/module.h>
#include <torch/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/io/safetensors.h"

namespace dpo {

// Named tensors spread over one or more safetensors files (a sharded checkpoint), optionally
// seen through a prefix: select("model.layers.3.") names "self_attn.q_proj.weight" and so on.
class StateDict {
 public:
  static StateDict from_files(const std::vector<std::shared_ptr<SafetensorsFile>>& files);

  StateDict select(const std::string& prefix) const;
  std::vector<std::string> names() const;  // relative to the prefix, sorted
  bool contains(const std::string& name) const;
  torch::Tensor get(const std::string& name) const;  // stored dtype, zero-copy
  const SafetensorsEntry& entry(const std::string& name) const;

 private:
  std::map<std::string, std::shared_ptr<SafetensorsFile>> owner_;  // full name -> file
  std::string prefix_;
};

struct LoadReport {
  std::vector<std::string> missing;     // model parameters the checkpoint lacks
  std::vector<std::string> unexpected;  // checkpoint tensors the model has no place for
  std::vector<std::string> ignored;     // known extras (rotary inv_freq buffers, a tied lm_head)
};

// Copies (or, for CPU tensors of the same dtype, maps without copying) every parameter of
// `module` from `state`, converting to `dtype` on `device`. Throws ModelError naming the tensor
// on a shape mismatch; missing and unexpected names go into the report.
LoadReport load_parameters(torch::nn::Module& module, const StateDict& state, torch::ScalarType dtype,
                           torch::Device device);

}  // namespace dpo
