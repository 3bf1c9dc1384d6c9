#include "app/session/train_args.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "core/train/config_json.h"
#include "core/train/losses.h"
#include "core/train/schedule.h"

namespace dpo::app {

std::string format_number(double value) {
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  std::string text(buffer, ec == std::errc() ? end : buffer);
  // CLI11 parses with strtold and then narrows: the shortest text can land one ulp off.
  if (!text.empty() && static_cast<double>(std::strtold(text.c_str(), nullptr)) == value) return text;
  std::snprintf(buffer, sizeof buffer, "%.21Lg", static_cast<long double>(value));
  return buffer;
}

std::string shell_quote(std::string_view word) {
  const auto safe = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("-_./:,=+@%").find(c) != std::string_view::npos;
  };
  bool plain = !word.empty();
  for (char c : word) plain = plain && safe(c);
  if (plain) return std::string(word);
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

namespace {

std::string loss_spec(const LossConfig& loss) {
  if (loss.terms.empty()) return std::string(loss_info(loss.type).name);
  std::string spec;
  for (const auto& t : loss.terms)
    spec += (spec.empty() ? "" : ",") + std::string(loss_info(t.type).name) + ":" + format_number(t.weight);
  return spec;
}

std::string join(const std::vector<std::string>& parts) {
  std::string text;
  for (const auto& p : parts) text += (text.empty() ? "" : ",") + p;
  return text;
}

}  // namespace

TrainCommand train_command(const RunOptions& o) {
  const bool sft = o.trainer.objective == Objective::Sft;
  RunOptions d;  // what the subcommand starts from (app/cli/train_command.cpp)
  if (sft) {
    d.trainer.objective = Objective::Sft;
    d.trainer.learning_rate = 1e-3;
  }
  TrainCommand c{sft ? "sft" : "train", {}, {}};
  auto& args = c.args;
  const auto text = [&](const char* flag, const std::string& value, const std::string& fallback) {
    if (value == fallback) return;
    // "--flag=value" keeps a value that starts with '-' from reading as a flag.
    if (!value.empty() && value.front() == '-')
      args.push_back(std::string(flag) + "=" + value);
    else
      args.insert(args.end(), {flag, value});
  };
  const auto number = [&](const char* flag, double value, double fallback) {
    if (value != fallback) text(flag, format_number(value), "");
  };
  const auto integer = [&](const char* flag, auto value, auto fallback) {
    if (value != fallback) text(flag, std::to_string(value), "");
  };
  const auto flag = [&](const char* name, bool on) {
    if (on) args.push_back(name);
  };
  const auto& t = o.trainer;
  const auto& dt = d.trainer;

  text("--model", o.model_dir, d.model_dir);
  text("--data", o.data_path, d.data_path);
  text("--tokenizer", o.tokenizer_path, d.tokenizer_path);
  text("--reference", o.reference_dir, d.reference_dir);
  text("--device", o.device, d.device);
  flag("--bf16", t.bf16_autocast != dt.bf16_autocast);
  text("--format", o.format, d.format);
  text("--layout", o.layout, d.layout);
  text("--columns", o.columns, d.columns);
  text("--on-bad-row", o.on_bad_row, d.on_bad_row);
  text("--chat-template", o.chat_template_path, d.chat_template_path);
  integer("--max-length", o.tokenize.max_length, d.tokenize.max_length);
  integer("--max-prompt-length", o.tokenize.max_prompt_length, d.tokenize.max_prompt_length);
  integer("--max-completion-length", o.tokenize.max_completion_length, d.tokenize.max_completion_length);
  if (o.tokenize.prompt_truncation != d.tokenize.prompt_truncation)
    text("--truncation",
         o.tokenize.prompt_truncation == PromptTruncation::kKeepStart ? "keep_start" : "keep_end", "");
  number("--eval-fraction", o.eval_fraction, d.eval_fraction);
  integer("--split-seed", o.split_seed, d.split_seed);
  text("--cache-dir", o.cache_dir, d.cache_dir);
  flag("--no-cache", o.no_cache);

  // `dpo sft` has no loss flags: whatever the loss holds is not part of its objective.
  if (!sft) {
    const auto& l = t.loss;
    const auto& dl = dt.loss;
    if (!l.terms.empty() || l.type != dl.type) text("--loss", loss_spec(l), "");
    number("--beta", l.beta, dl.beta);
    number("--label-smoothing", l.label_smoothing, dl.label_smoothing);
    number("--rpo-alpha", l.rpo_alpha, dl.rpo_alpha);
    number("--simpo-gamma", l.simpo_gamma, dl.simpo_gamma);
    number("--margin-gamma", l.margin_gamma, dl.margin_gamma);
    number("--length-alpha", l.length_alpha, dl.length_alpha);
    number("--orpo-lambda", l.orpo_lambda, dl.orpo_lambda);
    number("--discopop-tau", l.discopop_tau, dl.discopop_tau);
    number("--fdpo-alpha", l.fdpo_alpha, dl.fdpo_alpha);
    flag("--wpo", l.wpo_weighting != dl.wpo_weighting);
    number("--ld-alpha", l.ld_alpha, dl.ld_alpha);
    flag("--no-precompute-ref", t.precompute_reference != dt.precompute_reference);
    integer("--sync-ref-every", t.sync_reference_every, dt.sync_reference_every);
    number("--sync-ref-alpha", t.sync_reference_alpha, dt.sync_reference_alpha);
    if (l.kto_desirable_weight != dl.kto_desirable_weight)
      c.not_expressible.push_back("trainer.desirable_weight");
    if (l.kto_undesirable_weight != dl.kto_undesirable_weight)
      c.not_expressible.push_back("trainer.undesirable_weight");
  } else {
    // Kept in config.json but read by no SFT step; named so a round trip can tell.
    if (nlohmann::json(t.loss) != nlohmann::json(dt.loss)) c.not_expressible.push_back("trainer.loss");
  }
  integer("--lora-r", o.lora.r, d.lora.r);
  number("--lora-alpha", o.lora.alpha, d.lora.alpha);
  number("--lora-dropout", o.lora.dropout, d.lora.dropout);
  if (o.lora.target_modules != d.lora.target_modules) text("--lora-targets", join(o.lora.target_modules), "");
  integer("--steps", t.max_steps, dt.max_steps);
  number("--lr", t.learning_rate, dt.learning_rate);
  if (t.schedule != dt.schedule) text("--schedule", std::string(lr_schedule_name(t.schedule)), "");
  integer("--warmup", t.warmup_steps, dt.warmup_steps);
  number("--weight-decay", t.weight_decay, dt.weight_decay);
  number("--max-grad-norm", t.max_grad_norm, dt.max_grad_norm);
  integer("--batch", t.batch_size, dt.batch_size);
  integer("--grad-accum", t.grad_accumulation, dt.grad_accumulation);
  integer("--seed", t.seed, dt.seed);
  flag("--group-by-length", t.group_by_length != dt.group_by_length);
  integer("--model-seed", o.model_seed, d.model_seed);
  integer("--eval-every", t.eval_every, dt.eval_every);
  integer("--max-nonfinite", t.max_nonfinite_steps, dt.max_nonfinite_steps);

  const auto unreachable = [&](const char* key, bool differs) {
    if (differs) c.not_expressible.push_back(key);
  };
  unreachable("add_bos", o.tokenize.add_bos != d.tokenize.add_bos);
  unreachable("add_eos", o.tokenize.add_eos != d.tokenize.add_eos);
  unreachable("trainer.adam_beta1", t.adam_beta1 != dt.adam_beta1);
  unreachable("trainer.adam_beta2", t.adam_beta2 != dt.adam_beta2);
  unreachable("trainer.adam_epsilon", t.adam_epsilon != dt.adam_epsilon);
  unreachable("trainer.pad_to_multiple_of", t.pad_to_multiple_of != dt.pad_to_multiple_of);
  unreachable("trainer.logit_chunk_rows", t.logit_chunk_rows != dt.logit_chunk_rows);
  unreachable("trainer.per_device_eval_batch_size", t.eval_batch_size != dt.eval_batch_size);
  unreachable("trainer.sample_prompts", t.sample_prompts != dt.sample_prompts);
  unreachable("trainer.sample_max_new_tokens", t.sample_max_new_tokens != dt.sample_max_new_tokens);
  unreachable("trainer.measure_sampled_length", t.measure_sampled_length != dt.measure_sampled_length);
  return c;
}

std::string train_command_line(const RunOptions& options, std::string_view program) {
  const auto command = train_command(options);
  std::string line = shell_quote(program) + " " + command.subcommand;
  for (const auto& a : command.args) line += " " + shell_quote(a);
  return line;
}

}  // namespace dpo::app
