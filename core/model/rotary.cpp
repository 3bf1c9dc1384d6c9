#include "core/model/rotary.h"

#include <torch/torch.h>

namespace dpo {

torch::Tensor rope_inverse_frequencies(const LlamaConfig& c) {
  // inv_freq_i = theta^(-2i/D), i < D/2
  auto inv_freq = torch::pow(c.rope_theta, -torch::arange(0, c.head_dim, 2, torch::kFloat64) / double(c.head_dim));
  if (c.rope_scaling_type == "linear") return (inv_freq / c.rope_scaling_factor).to(torch::kFloat32);
  if (c.rope_scaling_type == "llama3") {
    // Long wavelengths are interpolated by `factor`, short ones kept, the band between blended.
    const double old_context = double(c.rope_original_max_position_embeddings);
    const double low_wavelen = old_context / c.rope_low_freq_factor;
    const double high_wavelen = old_context / c.rope_high_freq_factor;
    auto wavelen = 2 * M_PI / inv_freq;
    auto scaled = torch::where(wavelen > low_wavelen, inv_freq / c.rope_scaling_factor, inv_freq);
    auto smooth = (old_context / wavelen - c.rope_low_freq_factor) / (c.rope_high_freq_factor - c.rope_low_freq_factor);
    auto blended = (1 - smooth) * scaled / c.rope_scaling_factor + smooth * scaled;
    auto medium = (wavelen >= high_wavelen).logical_and(wavelen <= low_wavelen);
    return torch::where(medium, blended, scaled).to(torch::kFloat32);
  }
  return inv_freq.to(torch::kFloat32);
}

RotaryTables rotary_tables(const torch::Tensor& position_ids, const torch::Tensor& inv_freq,
                           torch::ScalarType dtype) {
  auto freqs = position_ids.to(torch::kFloat32).unsqueeze(-1) * inv_freq.to(position_ids.device(), torch::kFloat32);  // (B, T, D/2)
  auto emb = torch::cat({freqs, freqs}, -1).unsqueeze(1);                 // (B, 1, T, D)
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

torch::Tensor apply_rotary(const torch::Tensor& x, const RotaryTables& tables) {
  const int64_t half = x.size(-1) / 2;
  auto x1 = x.narrow(-1, 0, half);
  auto x2 = x.narrow(-1, half, half);
  auto rotated = torch::cat({-x2, x1}, -1);
  return x * tables.cos + rotated * tables.sin;
}

}  // namespace dpo
