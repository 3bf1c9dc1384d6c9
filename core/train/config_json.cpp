#include "core/train/config_json.h"

#include <nlohmann/json.hpp>

#include "core/runtime/error.h"

namespace dpo {

namespace {
template <typename T>
void read(const nlohmann::json& j, const char* key, T& value) {
  if (!j.contains(key)) return;
  try {
    j.at(key).get_to(value);
  } catch (const nlohmann::json::exception&) {
    throw ConfigError(std::string("config: \"") + key + "\" has the wrong type: " + j.at(key).dump());
  }
}

LossType loss_from(const nlohmann::json& v) {
  const auto name = v.get<std::string>();
  auto type = parse_loss_type(name);
  if (!type) throw ConfigError("config: unknown loss \"" + name + "\"");
  return *type;
}
}  // namespace

void to_json(nlohmann::json& j, const LossConfig& c) {
  j = nlohmann::json{{"loss_type", loss_info(c.type).name},
                     {"beta", c.beta},
                     {"label_smoothing", c.label_smoothing},
                     {"simpo_gamma", c.simpo_gamma},
                     {"margin_gamma", c.margin_gamma},
                     {"length_alpha", c.length_alpha},
                     {"orpo_lambda", c.orpo_lambda},
                     {"rpo_alpha", c.rpo_alpha},
                     {"discopop_tau", c.discopop_tau},
                     {"desirable_weight", c.kto_desirable_weight},
                     {"undesirable_weight", c.kto_undesirable_weight},
                     {"fdpo_alpha", c.fdpo_alpha},
                     {"use_weighting", c.wpo_weighting},
                     {"ld_alpha", c.ld_alpha}};
  auto terms = nlohmann::json::array();
  for (const auto& t : c.terms)
    terms.push_back({{"loss_type", loss_info(t.type).name}, {"weight", t.weight}});
  j["loss_terms"] = terms;
}

void from_json(const nlohmann::json& j, LossConfig& c) {
  if (j.contains("loss_type")) c.type = loss_from(j["loss_type"]);
  read(j, "beta", c.beta);
  read(j, "label_smoothing", c.label_smoothing);
  read(j, "simpo_gamma", c.simpo_gamma);
  read(j, "margin_gamma", c.margin_gamma);
  read(j, "length_alpha", c.length_alpha);
  read(j, "orpo_lambda", c.orpo_lambda);
  read(j, "rpo_alpha", c.rpo_alpha);
  read(j, "discopop_tau", c.discopop_tau);
  read(j, "desirable_weight", c.kto_desirable_weight);
  read(j, "undesirable_weight", c.kto_undesirable_weight);
  read(j, "fdpo_alpha", c.fdpo_alpha);
  read(j, "use_weighting", c.wpo_weighting);
  read(j, "ld_alpha", c.ld_alpha);
  c.terms.clear();
  if (j.contains("loss_terms"))
    for (const auto& t : j["loss_terms"])
      c.terms.push_back({loss_from(t.at("loss_type")), t.value("weight", 1.0)});
}

void to_json(nlohmann::json& j, const TrainerConfig& c) {
  j = c.loss;
  j.update(nlohmann::json{{"objective", c.objective == Objective::Sft ? "sft" : "preference"},
                          {"learning_rate", c.learning_rate},
                          {"lr_scheduler_type", lr_schedule_name(c.schedule)},
                          {"warmup_steps", c.warmup_steps},
                          {"weight_decay", c.weight_decay},
                          {"adam_beta1", c.adam_beta1},
                          {"adam_beta2", c.adam_beta2},
                          {"adam_epsilon", c.adam_epsilon},
                          {"max_grad_norm", c.max_grad_norm},
                          {"per_device_train_batch_size", c.batch_size},
                          {"gradient_accumulation_steps", c.grad_accumulation},
                          {"max_steps", c.max_steps},
                          {"seed", c.seed},
                          {"pad_to_multiple_of", c.pad_to_multiple_of},
                          {"group_by_length", c.group_by_length},
                          {"bf16", c.bf16_autocast},
                          {"precompute_ref_log_probs", c.precompute_reference},
                          {"ref_model_sync_steps", c.sync_reference_every},
                          {"ref_model_mixup_alpha", c.sync_reference_alpha},
                          {"max_nonfinite_steps", c.max_nonfinite_steps},
                          {"eval_steps", c.eval_every},
                          {"per_device_eval_batch_size", c.eval_batch_size},
                          {"sample_prompts", c.sample_prompts},
                          {"sample_max_new_tokens", c.sample_max_new_tokens},
                          {"measure_sampled_length", c.measure_sampled_length}});
}

void from_json(const nlohmann::json& j, TrainerConfig& c) {
  from_json(j, c.loss);
  if (j.contains("objective")) c.objective = j["objective"] == "sft" ? Objective::Sft : Objective::Preference;
  read(j, "learning_rate", c.learning_rate);
  if (j.contains("lr_scheduler_type")) {
    auto s = parse_lr_schedule(j["lr_scheduler_type"].get<std::string>());
    if (!s) throw ConfigError("config: unknown lr_scheduler_type " + j["lr_scheduler_type"].dump());
    c.schedule = *s;
  }
  read(j, "warmup_steps", c.warmup_steps);
  read(j, "weight_decay", c.weight_decay);
  read(j, "adam_beta1", c.adam_beta1);
  read(j, "adam_beta2", c.adam_beta2);
  read(j, "adam_epsilon", c.adam_epsilon);
  read(j, "max_grad_norm", c.max_grad_norm);
  read(j, "per_device_train_batch_size", c.batch_size);
  read(j, "gradient_accumulation_steps", c.grad_accumulation);
  read(j, "max_steps", c.max_steps);
  read(j, "seed", c.seed);
  read(j, "pad_to_multiple_of", c.pad_to_multiple_of);
  read(j, "group_by_length", c.group_by_length);
  read(j, "bf16", c.bf16_autocast);
  read(j, "precompute_ref_log_probs", c.precompute_reference);
  read(j, "ref_model_sync_steps", c.sync_reference_every);
  read(j, "ref_model_mixup_alpha", c.sync_reference_alpha);
  read(j, "max_nonfinite_steps", c.max_nonfinite_steps);
  read(j, "eval_steps", c.eval_every);
  read(j, "per_device_eval_batch_size", c.eval_batch_size);
  read(j, "sample_prompts", c.sample_prompts);
  read(j, "sample_max_new_tokens", c.sample_max_new_tokens);
  read(j, "measure_sampled_length", c.measure_sampled_length);
}

}  // namespace dpo
