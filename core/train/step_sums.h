#pragma once
#include <torch/types.h>

#include <array>
#include <vector>

#include "core/train/logprobs.h"
#include "core/train/losses.h"
#include "core/train/pair_logps.h"
#include "core/train/reference_logps.h"

namespace dpo {

// Sums over the pairs of one step (or one evaluation), turned into means at the end. The
// per-batch sums stay on the device and are read back once (settle), so a CUDA step waits for the
// device once, not 10 times per micro-batch.
struct StepSums {
  double loss = 0, rewards_chosen = 0, rewards_rejected = 0, accurate = 0, logps_chosen = 0,
         logps_rejected = 0, logits_chosen = 0, logits_rejected = 0, length_chosen = 0, length_rejected = 0;
  // KTO: "chosen" sums run over desirable examples, "rejected" over undesirable ones.
  double desirable = 0, undesirable = 0, kl = 0;

  // A preference loss: per-pair losses and rewards of the batch.
  void add(const torch::Tensor& losses, const LossOutput& lo, const BatchLogps& b);
  // KTO: the batch's rows labelled desirable (true) or undesirable, (B) bool.
  void add_kto(const KtoOutput& ko, const torch::Tensor& is_desirable, const BatchLogps& b);
  // SFT: the summed NLL, log π of the chosen completions and their token counts.
  void add_sft(const torch::Tensor& nll, const SequenceLogps& lp);
  // Reads the device-side sums back (one host-device sync) into the fields above.
  void settle();
  // The 13 fields above in declaration order (to sum them over ranks).
  std::array<double*, 13> fields();

  // The chosen-side means (sums over nc) and rejected-side means (over nr) into `out`: a
  // StepMetrics or a PreferenceEval, which name these eight fields alike.
  template <typename Means>
  void side_means(double nc, double nr, Means& out) const {
    out.rewards_chosen = rewards_chosen / nc;
    out.rewards_rejected = rewards_rejected / nr;
    out.logps_chosen = logps_chosen / nc;
    out.logps_rejected = logps_rejected / nr;
    out.logits_chosen = logits_chosen / nc;
    out.logits_rejected = logits_rejected / nr;
    out.length_chosen = length_chosen / nc;
    out.length_rejected = length_rejected / nr;
  }

 private:
  void push(std::vector<torch::Tensor> parts);
  torch::Tensor pending_;  // (13) fp64, in the fields' declaration order
};

// The values of a batch's rows, picked from per-pair vectors: (B) fp32, (B) fp64, (B) bool.
torch::Tensor rows_of(const std::vector<float>& values, const std::vector<size_t>& indices);
torch::Tensor rows_of(const std::vector<double>& values, const std::vector<size_t>& indices);
torch::Tensor labels_of(const std::vector<bool>& labels, const std::vector<size_t>& indices);
// π_ref for a batch of those rows: their precomputed log-probs when there are any, else `model`.
ReferenceSource reference_for_rows(LlamaForCausalLM* model, const ReferenceLogps* precomputed,
                                   const std::vector<size_t>& rows);

KtoConfig kto_config(const LossConfig& c);

}  // namespace dpo
