#pragma once
// AdamW moments and the CPU generator of a checkpoint as plain tensors (safetensors + JSON), never
// through libtorch's pickle archives, which can carry TorchScript: a run folder from someone else
// may not run code. Loading checks every name, dtype and shape before the optimiser is touched.
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace dpo {

using NamedParameters = std::vector<std::pair<std::string, torch::Tensor>>;

// DIR/optimizer.safetensors ("<name>.exp_avg", "<name>.exp_avg_sq") + DIR/optimizer.json (steps).
void save_adamw_state(const torch::optim::AdamW& optimizer, const NamedParameters& parameters,
                      const std::filesystem::path& dir);
// Throws TrainingError naming the file and tensor. A checkpoint of an older version (optimizer.pt
// only) is refused.
void load_adamw_state(torch::optim::AdamW& optimizer, const NamedParameters& parameters,
                      const std::filesystem::path& dir);

// DIR/rng.safetensors: torch's default CPU generator (dropout draws from it).
void save_cpu_generator(const std::filesystem::path& dir);
void load_cpu_generator(const std::filesystem::path& dir);

}  // namespace dpo
