#include "core/train/metrics.h"

#include <nlohmann/json.hpp>

namespace dpo {

void to_json(nlohmann::json& j, const StepMetrics& m) {
  j = nlohmann::json{{"step", m.step},
                     {"epoch", m.epoch},
                     {"loss", m.loss},
                     {"rewards/chosen", m.rewards_chosen},
                     {"rewards/rejected", m.rewards_rejected},
                     {"rewards/margins", m.rewards_margins},
                     {"rewards/accuracies", m.rewards_accuracies},
                     {"logps/chosen", m.logps_chosen},
                     {"logps/rejected", m.logps_rejected},
                     {"length/chosen", m.length_chosen},
                     {"length/rejected", m.length_rejected},
                     {"logits/chosen", m.logits_chosen},
                     {"logits/rejected", m.logits_rejected},
                     {"learning_rate", m.learning_rate},
                     {"beta", m.beta},
                     {"grad_norm", m.grad_norm},
                     {"num_tokens", m.tokens},
                     {"tokens_per_second", m.tokens_per_second},
                     {"padding_ratio", m.padding_ratio},
                     {"elapsed_seconds", m.elapsed_seconds}};
  if (m.skipped) j["skipped"] = true;
  if (m.kl != 0) j["kl"] = m.kl;
  if (!m.rank_tokens_per_second.empty()) j["rank_tokens_per_second"] = m.rank_tokens_per_second;
}

void from_json(const nlohmann::json& j, StepMetrics& m) {
  j.at("step").get_to(m.step);
  m.epoch = j.value("epoch", int64_t{0});
  j.at("loss").get_to(m.loss);
  j.at("rewards/chosen").get_to(m.rewards_chosen);
  j.at("rewards/rejected").get_to(m.rewards_rejected);
  j.at("rewards/margins").get_to(m.rewards_margins);
  j.at("rewards/accuracies").get_to(m.rewards_accuracies);
  j.at("logps/chosen").get_to(m.logps_chosen);
  j.at("logps/rejected").get_to(m.logps_rejected);
  j.at("length/chosen").get_to(m.length_chosen);
  j.at("length/rejected").get_to(m.length_rejected);
  m.learning_rate = j.value("learning_rate", 0.0);
  m.grad_norm = j.value("grad_norm", 0.0);
  m.logits_chosen = j.value("logits/chosen", 0.0);
  m.logits_rejected = j.value("logits/rejected", 0.0);
  m.beta = j.value("beta", 0.0);
  m.tokens = j.contains("num_tokens") ? j["num_tokens"].get<int64_t>() : j.value("tokens", int64_t{0});
  m.tokens_per_second = j.value("tokens_per_second", 0.0);
  m.padding_ratio = j.value("padding_ratio", 0.0);
  m.elapsed_seconds = j.value("elapsed_seconds", 0.0);
  m.skipped = j.value("skipped", false);
  m.kl = j.value("kl", 0.0);
  m.rank_tokens_per_second = j.value("rank_tokens_per_second", std::vector<double>{});
}

}  // namespace dpo
