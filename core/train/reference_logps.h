#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <vector>

#include "core/data/preference_pair.h"
#include "core/model/llama.h"

namespace dpo {

// log π_ref(y_w | x) and log π_ref(y_l | x) of every pair, computed once so training steps run only
// the policy (TRL's precompute_ref_log_probs). Values are the fp32 sums the forward pass produced.
struct ReferenceLogps {
  std::vector<float> chosen;    // (N) in pair order
  std::vector<float> rejected;  // (N)
  size_t size() const { return chosen.size(); }
};

// Identities for cache keys: the model config and every parameter's name, shape, dtype, device and
// bytes; every pair's token ids.
uint64_t parameters_fingerprint(LlamaForCausalLM& model);
uint64_t pairs_fingerprint(const std::vector<TokenizedPair>& pairs);

// Returning false cancels: compute_reference_logps then throws dpo::Cancelled.
using ProgressCallback = std::function<bool(size_t done, size_t total)>;

// With LoRA adapters on `reference`, they are disabled for the pass (the base model scores).
// Fixed batches in pair order, so the same model and pairs always give the same bits.
ReferenceLogps compute_reference_logps(LlamaForCausalLM& reference, const std::vector<TokenizedPair>& pairs,
                                       int64_t pad_id, int64_t batch_size,
                                       const ProgressCallback& progress = nullptr, int64_t chunk_rows = -1);

// The cache file for (model, pairs) in `dir`: reflogps-<model hash>-<pairs hash>.bin.
std::filesystem::path reference_cache_path(const std::filesystem::path& dir, uint64_t model_hash,
                                           uint64_t pairs_hash);
// nullopt when absent, for another size, or damaged: a cache is never an error.
std::optional<ReferenceLogps> read_reference_cache(const std::filesystem::path& path, size_t pairs);
void write_reference_cache(const std::filesystem::path& path, const ReferenceLogps& logps);

}  // namespace dpo
