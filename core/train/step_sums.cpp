#include "core/train/step_sums.h"

#include <torch/torch.h>

namespace dpo {

namespace {
torch::Tensor total(const torch::Tensor& t) { return t.detach().to(torch::kFloat64).sum(); }
}  // namespace

void StepSums::add(const torch::Tensor& losses, const LossOutput& lo, const BatchLogps& b) {
  auto none = torch::zeros({}, lo.chosen_rewards.options().dtype(torch::kFloat64));
  push({total(losses), total(lo.chosen_rewards), total(lo.rejected_rewards),
        total(lo.chosen_rewards > lo.rejected_rewards), total(b.logps.policy_chosen),
        total(b.logps.policy_rejected), total(b.logits_chosen), total(b.logits_rejected),
        total(b.logps.chosen_tokens), total(b.logps.rejected_tokens), none, none, none});
}

void StepSums::add_kto(const KtoOutput& ko, const torch::Tensor& is_desirable, const BatchLogps& b) {
  auto d = is_desirable.to(torch::kFloat64), u = 1.0 - d;
  auto r = ko.rewards.detach().to(torch::kFloat64), pc = b.logps.policy_chosen.detach().to(torch::kFloat64);
  auto len = b.logps.chosen_tokens.to(torch::kFloat64), logits = b.logits_chosen.to(torch::kFloat64);
  push({total(ko.losses), (r * d).sum(), (r * u).sum(),
        ((r > 0).to(torch::kFloat64) * d + (r < 0).to(torch::kFloat64) * u).sum(), (pc * d).sum(),
        (pc * u).sum(), (logits * d).sum(), (logits * u).sum(), (len * d).sum(), (len * u).sum(), d.sum(),
        u.sum(), total(ko.kl)});
}

void StepSums::add_sft(const torch::Tensor& nll, const SequenceLogps& lp) {
  auto none = torch::zeros({}, nll.options().dtype(torch::kFloat64));
  push({total(nll), none, none, none, total(lp.sum), none, none, none, total(lp.tokens), none, none, none,
        none});
}

void StepSums::settle() {
  if (!pending_.defined()) return;
  auto host = pending_.to(torch::kCPU);
  const auto v = host.accessor<double, 1>();
  const auto f = fields();
  for (int64_t i = 0; i < v.size(0); ++i) *f[static_cast<size_t>(i)] += v[i];
  pending_ = torch::Tensor();
}

std::array<double*, 13> StepSums::fields() {
  return {&loss,
          &rewards_chosen,
          &rewards_rejected,
          &accurate,
          &logps_chosen,
          &logps_rejected,
          &logits_chosen,
          &logits_rejected,
          &length_chosen,
          &length_rejected,
          &desirable,
          &undesirable,
          &kl};
}

void StepSums::push(std::vector<torch::Tensor> parts) {
  auto v = torch::stack(parts);  // (13) fp64
  pending_ = pending_.defined() ? pending_ + v : v;
}

namespace {
template <typename T>
torch::Tensor pick(const std::vector<T>& values, const std::vector<size_t>& indices, torch::Dtype dtype) {
  std::vector<T> picked;
  picked.reserve(indices.size());
  for (auto i : indices) picked.push_back(values[i]);
  return torch::tensor(picked, dtype);
}
}  // namespace

torch::Tensor rows_of(const std::vector<float>& values, const std::vector<size_t>& indices) {
  return pick(values, indices, torch::kFloat32);
}

torch::Tensor rows_of(const std::vector<double>& values, const std::vector<size_t>& indices) {
  return pick(values, indices, torch::kFloat64);
}

ReferenceSource reference_for_rows(LlamaForCausalLM* model, const ReferenceLogps* precomputed,
                                   const std::vector<size_t>& rows) {
  ReferenceSource source{.model = model};
  if (precomputed != nullptr) {
    source.chosen = rows_of(precomputed->chosen, rows);
    source.rejected = rows_of(precomputed->rejected, rows);
  }
  return source;
}

torch::Tensor labels_of(const std::vector<bool>& labels, const std::vector<size_t>& indices) {
  std::vector<uint8_t> picked;
  picked.reserve(indices.size());
  for (auto i : indices) picked.push_back(labels[i] ? 1 : 0);
  return torch::tensor(picked, torch::kBool);
}

KtoConfig kto_config(const LossConfig& c) {
  return {.beta = c.beta,
          .desirable_weight = c.kto_desirable_weight,
          .undesirable_weight = c.kto_undesirable_weight};
}

}  // namespace dpo
