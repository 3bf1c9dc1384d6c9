#include "core/train/reference_logps.h"

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <span>
#include <sstream>

#include "core/data/collator.h"
#include "core/io/atomic_file.h"
#include "core/io/hash.h"
#include "core/model/lora.h"
#include "core/runtime/error.h"
#include "core/runtime/fault.h"
#include "core/train/pair_logps.h"

namespace dpo {

namespace {
constexpr char kMagic[8] = {'D', 'P', 'O', 'R', 'E', 'F', '0', '1'};

std::string hex(uint64_t v) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(v));
  return buffer;
}

// Length first, so consecutive pieces cannot run into each other.
void add_sized(Hasher& h, const void* data, size_t size) {
  const uint64_t n = size;
  h.add(&n, sizeof n).add(data, size);
}
}  // namespace

uint64_t parameters_fingerprint(LlamaForCausalLM& model) {
  Hasher h(0x5eed);
  // The config shapes the scores without changing a parameter byte (rope_theta, eps, sliding window).
  nlohmann::json config = model->config();
  const std::string config_text = config.dump();
  add_sized(h, config_text.data(), config_text.size());
  for (const auto& p : model->named_parameters()) {
    if (is_lora_parameter(p.key())) continue;  // the reference is the base model
    auto t = p.value().detach().to(torch::kCPU).contiguous();
    add_sized(h, p.key().data(), p.key().size());
    add_sized(h, t.sizes().data(), static_cast<size_t>(t.dim()) * sizeof(int64_t));
    const std::string where = std::string(c10::toString(t.scalar_type())) + "@" + p.value().device().str();
    add_sized(h, where.data(), where.size());
    add_sized(h, t.data_ptr(), static_cast<size_t>(t.numel()) * t.element_size());
  }
  return h.digest();
}

uint64_t pairs_fingerprint(const std::vector<TokenizedPair>& pairs) {
  Hasher h(0x9a125);
  for (const auto& p : pairs)
    for (const auto* ids : {&p.prompt_ids, &p.chosen_ids, &p.rejected_ids})
      add_sized(h, ids->data(), ids->size() * sizeof(int64_t));
  return h.digest();
}

ReferenceLogps compute_reference_logps(LlamaForCausalLM& reference, const std::vector<TokenizedPair>& pairs,
                                       int64_t pad_id, int64_t batch_size, const ProgressCallback& progress,
                                       int64_t chunk_rows) {
  // Inference mode: no autograd records at all, the cheapest forward libtorch has.
  c10::InferenceMode inference;
  AdaptersDisabled base(reference);  // a LoRA policy scores as its base model
  const bool was_training = reference->is_training();
  reference->eval();
  ReferenceLogps out;
  out.chosen.reserve(pairs.size());
  out.rejected.reserve(pairs.size());
  const auto step = static_cast<size_t>(std::max<int64_t>(1, batch_size));
  for (size_t start = 0; start < pairs.size(); start += step) {
    const size_t n = std::min(step, pairs.size() - start);
    auto batch = collate_pairs(std::span(pairs).subspan(start, n), pad_id);
    auto sums = model_response_logprobs(reference, batch.input_ids, batch.attention_mask, batch.response_mask,
                                        chunk_rows)
                    .logps.sum.to(torch::kCPU)
                    .to(torch::kFloat32)
                    .contiguous();  // (2n)
    const float* v = sums.data_ptr<float>();
    out.chosen.insert(out.chosen.end(), v, v + n);
    out.rejected.insert(out.rejected.end(), v + n, v + 2 * n);
    fault_point("reference", static_cast<int64_t>(start + n));
    if (progress && !progress(start + n, pairs.size()))
      throw Cancelled("reference pass cancelled after " + std::to_string(start + n) + " of " +
                      std::to_string(pairs.size()) + " pairs");
  }
  if (was_training) reference->train();
  return out;
}

std::filesystem::path reference_cache_path(const std::filesystem::path& dir, uint64_t model_hash,
                                           uint64_t pairs_hash) {
  return dir / ("reflogps-" + hex(model_hash) + "-" + hex(pairs_hash) + ".bin");
}

std::optional<ReferenceLogps> read_reference_cache(const std::filesystem::path& path, size_t pairs) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();
  const size_t expected = sizeof kMagic + sizeof(uint64_t) + 2 * pairs * sizeof(float);
  if (bytes.size() != expected || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) return std::nullopt;
  uint64_t n = 0;
  std::memcpy(&n, bytes.data() + sizeof kMagic, sizeof n);
  if (n != pairs) return std::nullopt;
  ReferenceLogps out;
  out.chosen.resize(pairs);
  out.rejected.resize(pairs);
  const char* p = bytes.data() + sizeof kMagic + sizeof n;
  std::memcpy(out.chosen.data(), p, pairs * sizeof(float));
  std::memcpy(out.rejected.data(), p + pairs * sizeof(float), pairs * sizeof(float));
  return out;
}

void write_reference_cache(const std::filesystem::path& path, const ReferenceLogps& logps) {
  std::filesystem::create_directories(path.parent_path());
  write_file_atomically(path, [&](std::ostream& out) {
    out.write(kMagic, sizeof kMagic);
    const uint64_t n = logps.size();
    out.write(reinterpret_cast<const char*>(&n), sizeof n);
    out.write(reinterpret_cast<const char*>(logps.chosen.data()),
              static_cast<std::streamsize>(n * sizeof(float)));
    out.write(reinterpret_cast<const char*>(logps.rejected.data()),
              static_cast<std::streamsize>(n * sizeof(float)));
  });
}

}  // namespace dpo
