#include "core/eval/preference_eval.h"

#include <torch/torch.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <span>

#include "core/data/collator.h"
#include "core/train/pair_logps.h"

namespace dpo {

namespace {
std::vector<double> to_doubles(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU).to(torch::kFloat64).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}
torch::Tensor slice_tensor(const std::vector<float>& v, size_t start, size_t n) {
  return torch::from_blob(const_cast<float*>(v.data() + start), {static_cast<int64_t>(n)}, torch::kFloat32)
      .clone();
}
}  // namespace

PreferenceEval evaluate_preferences(LlamaForCausalLM& policy, LlamaForCausalLM* reference,
                                    const std::vector<TokenizedPair>& pairs, int64_t pad_id,
                                    const LossConfig& loss, int64_t batch_size, const ReferenceLogps* cached,
                                    const std::vector<double>& margins) {
  torch::NoGradGuard no_grad;
  const bool was_training = policy->is_training();
  policy->eval();
  PreferenceEval result;
  result.beta = loss.beta;
  const auto step = static_cast<size_t>(std::max<int64_t>(1, batch_size));
  for (size_t start = 0; start < pairs.size(); start += step) {
    const size_t n = std::min(step, pairs.size() - start);
    auto batch = collate_pairs(std::span(pairs).subspan(start, n), pad_id);
    ReferenceSource source{.model = reference};
    if (cached != nullptr) {
      source.chosen = slice_tensor(cached->chosen, start, n);
      source.rejected = slice_tensor(cached->rejected, start, n);
    }
    auto out = batch_preference_logps(policy, source, batch, loss);
    if (!margins.empty())
      out.logps.margin =
          torch::tensor(std::vector<double>(margins.begin() + static_cast<std::ptrdiff_t>(start),
                                            margins.begin() + static_cast<std::ptrdiff_t>(start + n)))
              .to(out.logps.policy_chosen.device(), out.logps.policy_chosen.scalar_type());
    auto lo = preference_loss(loss, out.logps);
    const auto losses = to_doubles(lo.losses), rc = to_doubles(lo.chosen_rewards),
               rr = to_doubles(lo.rejected_rewards), gw = to_doubles(lo.gradient_weight),
               pc = to_doubles(out.logps.policy_chosen), pr = to_doubles(out.logps.policy_rejected),
               lc = to_doubles(out.logps.chosen_tokens), lr = to_doubles(out.logps.rejected_tokens),
               gc = to_doubles(out.logits_chosen), gr = to_doubles(out.logits_rejected);
    for (size_t i = 0; i < n; ++i) {
      PairRecord r;
      r.line = pairs[start + i].line;
      r.reward_chosen = rc[i];
      r.reward_rejected = rr[i];
      r.logratio_chosen = rc[i] / loss.beta;
      r.logratio_rejected = rr[i] / loss.beta;
      r.margin = rc[i] - rr[i];
      r.misranked = !(r.margin > 0);
      r.loss = losses[i];
      r.gradient_weight = gw[i];
      r.length_chosen = static_cast<int64_t>(lc[i]);
      r.length_rejected = static_cast<int64_t>(lr[i]);
      result.pairs.push_back(r);
      result.mean_loss += losses[i];
      result.logps_chosen += pc[i];
      result.logps_rejected += pr[i];
      result.logits_chosen += gc[i];
      result.logits_rejected += gr[i];
    }
  }
  for (const auto& r : result.pairs) {
    result.rewards_chosen += r.reward_chosen;
    result.rewards_rejected += r.reward_rejected;
    result.mean_margin += r.margin;
    result.accuracy += r.misranked ? 0.0 : 1.0;
    result.length_chosen += static_cast<double>(r.length_chosen);
    result.length_rejected += static_cast<double>(r.length_rejected);
  }
  const double count = static_cast<double>(std::max<size_t>(1, result.pairs.size()));
  for (double* v : {&result.mean_loss, &result.rewards_chosen, &result.rewards_rejected, &result.mean_margin,
                    &result.accuracy, &result.logps_chosen, &result.logps_rejected, &result.logits_chosen,
                    &result.logits_rejected, &result.length_chosen, &result.length_rejected})
    *v /= count;
  if (was_training) policy->train();
  return result;
}

void to_json(nlohmann::json& j, const PreferenceEval& e) {
  j = nlohmann::json{{"step", e.step},
                     {"eval_loss", e.mean_loss},
                     {"eval_rewards/chosen", e.rewards_chosen},
                     {"eval_rewards/rejected", e.rewards_rejected},
                     {"eval_rewards/margins", e.mean_margin},
                     {"eval_rewards/accuracies", e.accuracy},
                     {"eval_logps/chosen", e.logps_chosen},
                     {"eval_logps/rejected", e.logps_rejected},
                     {"eval_logits/chosen", e.logits_chosen},
                     {"eval_logits/rejected", e.logits_rejected},
                     {"eval_length/chosen", e.length_chosen},
                     {"eval_length/rejected", e.length_rejected},
                     {"eval_pairs", e.pairs.size()}};
  if (std::isfinite(e.sampled_length)) j["eval_length/sampled"] = e.sampled_length;
  if (std::isfinite(e.sampled_kl)) j["eval_kl/sampled"] = e.sampled_kl;
}

void from_json(const nlohmann::json& j, PreferenceEval& e) {
  e.step = j.at("step").get<int64_t>();
  e.mean_loss = j.at("eval_loss").get<double>();
  e.rewards_chosen = j.value("eval_rewards/chosen", 0.0);
  e.rewards_rejected = j.value("eval_rewards/rejected", 0.0);
  e.mean_margin = j.at("eval_rewards/margins").get<double>();
  e.accuracy = j.at("eval_rewards/accuracies").get<double>();
  e.logps_chosen = j.value("eval_logps/chosen", 0.0);
  e.logps_rejected = j.value("eval_logps/rejected", 0.0);
  e.logits_chosen = j.value("eval_logits/chosen", 0.0);
  e.logits_rejected = j.value("eval_logits/rejected", 0.0);
  e.length_chosen = j.value("eval_length/chosen", 0.0);
  e.length_rejected = j.value("eval_length/rejected", 0.0);
  e.sampled_length = j.value("eval_length/sampled", std::numeric_limits<double>::quiet_NaN());
  e.sampled_kl = j.value("eval_kl/sampled", std::numeric_limits<double>::quiet_NaN());
}

void to_json(nlohmann::json& j, const PairRecord& r) {
  j = nlohmann::json{{"step", r.step},
                     {"pair", r.line},
                     {"logratio/chosen", r.logratio_chosen},
                     {"logratio/rejected", r.logratio_rejected},
                     {"rewards/chosen", r.reward_chosen},
                     {"rewards/rejected", r.reward_rejected},
                     {"margin", r.margin},
                     {"misranked", r.misranked},
                     {"loss", r.loss},
                     {"gradient_weight", r.gradient_weight},
                     {"length/chosen", r.length_chosen},
                     {"length/rejected", r.length_rejected}};
}

void from_json(const nlohmann::json& j, PairRecord& r) {
  r.step = j.at("step").get<int64_t>();
  r.line = j.at("pair").get<size_t>();
  r.logratio_chosen = j.at("logratio/chosen").get<double>();
  r.logratio_rejected = j.at("logratio/rejected").get<double>();
  r.reward_chosen = j.at("rewards/chosen").get<double>();
  r.reward_rejected = j.at("rewards/rejected").get<double>();
  r.margin = j.at("margin").get<double>();
  r.misranked = j.at("misranked").get<bool>();
  r.loss = j.value("loss", 0.0);
  r.gradient_weight = j.value("gradient_weight", 0.0);
  r.length_chosen = j.value("length/chosen", int64_t{0});
  r.length_rejected = j.value("length/rejected", int64_t{0});
}

}  // namespace dpo
