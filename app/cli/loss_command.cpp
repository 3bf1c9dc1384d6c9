#include "app/cli/loss_command.h"

#include <torch/torch.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "app/cli/flag_checks.h"
#include "core/runtime/error.h"
#include "core/train/losses.h"

namespace dpo::cli {

namespace {
struct LossArgs {
  std::string type = "sigmoid";
  std::optional<double> beta, label_smoothing, gamma, alpha, lambda, rpo_alpha, tau, delta;
  std::vector<double> policy_chosen, policy_rejected, ref_chosen, ref_rejected;
  std::vector<double> chosen_lengths, rejected_lengths, margin;
  bool list = false;
};

LossArgs& args() {
  static LossArgs a;
  return a;
}
CLI::App*& command() {
  static CLI::App* c = nullptr;
  return c;
}

torch::Tensor tensor(const std::vector<double>& v) { return torch::tensor(v, torch::kFloat64); }

void check_count(const std::vector<double>& v, size_t pairs, const char* option) {
  if (v.size() != pairs)
    throw ConfigError(std::string("loss: ") + option + " has " + std::to_string(v.size()) + " values, " +
                      "--policy-chosen has " + std::to_string(pairs));
}

void add_list(CLI::App& cmd, const char* name, std::vector<double>& into, const char* help) {
  cmd.add_option(name, into, help)->delimiter(',')->allow_extra_args(false);
}
}  // namespace

void add_loss_command(CLI::App& cli) {
  auto& a = args();
  auto* cmd = cli.add_subcommand("loss",
                                 "compute a preference loss by hand: per-pair losses, rewards, "
                                 "gradient weights as JSON");
  command() = cmd;
  cmd->add_flag("--list", a.list, "print every loss name with what it computes, its β and what it reads");
  cmd->add_option("--type", a.type, "loss name (see --list), or a weighted sum like sigmoid:1,sppo_hard:0.5")
      ->capture_default_str();
  positive(cmd->add_option("--beta", a.beta, "temperature beta (default: the loss's recommended value)"));
  in_range(
      cmd->add_option("--label-smoothing", a.label_smoothing, "epsilon of cDPO / rDPO / EXO / SimPO / CPO"),
      0.0, 1.0, /*hi_open=*/true);
  cmd->add_option("--gamma", a.gamma, "simpo target margin (default 0.5); margin score scale (default 1)");
  cmd->add_option("--alpha", a.alpha, "rdpo-length alpha per token of length difference (default 0.01)");
  cmd->add_option("--lambda", a.lambda, "orpo lambda (default 0.1)");
  cmd->add_option("--rpo-alpha", a.rpo_alpha, "adds alpha * NLL(y_w) per token (needs lengths)");
  positive(cmd->add_option("--tau", a.tau, "discopop tau (default 0.05)"));
  cmd->add_option("--delta", a.delta, "bco_pair running reward mean delta (default 0)");
  add_list(*cmd, "--policy-chosen", a.policy_chosen, "log pi(y_w|x) per pair, comma separated");
  add_list(*cmd, "--policy-rejected", a.policy_rejected, "log pi(y_l|x) per pair");
  add_list(*cmd, "--ref-chosen", a.ref_chosen,
           "log pi_ref(y_w|x) per pair (ignored by reference-free losses)");
  add_list(*cmd, "--ref-rejected", a.ref_rejected, "log pi_ref(y_l|x) per pair");
  add_list(*cmd, "--chosen-lengths", a.chosen_lengths, "|y_w| response tokens per pair");
  add_list(*cmd, "--rejected-lengths", a.rejected_lengths, "|y_l| response tokens per pair");
  add_list(*cmd, "--margin", a.margin, "score_w - score_l per pair, for the margin loss");
}

bool loss_command_chosen() { return command() != nullptr && command()->parsed(); }

int run_loss_command() {
  const auto& a = args();
  if (a.list) {
    for (const auto& info : loss_table())
      std::printf("%-16s %s (beta %g%s%s%s): %s\n", std::string(info.name).c_str(),
                  std::string(info.label).c_str(), info.default_beta,
                  info.needs_reference ? "" : ", no reference", info.needs_lengths ? ", reads lengths" : "",
                  info.paired ? "" : ", unpaired: not in dpo loss", std::string(info.formula).c_str());
    return 0;
  }
  LossConfig config;
  try {
    config.terms = parse_loss_terms(a.type, "--type");
  } catch (const ConfigError& e) {
    throw ConfigError(std::string("loss: ") + e.what());
  }
  config.type = config.terms.front().type;
  for (const auto& term : config.terms)
    if (!loss_info(term.type).paired)
      throw ConfigError("loss: '" + std::string(loss_info(term.type).name) +
                        "' is unpaired; dpo loss computes paired losses only");
  config.beta = a.beta.value_or(loss_info(config.type).default_beta);
  if (a.label_smoothing) config.label_smoothing = *a.label_smoothing;
  if (a.gamma) config.simpo_gamma = config.margin_gamma = *a.gamma;
  if (a.alpha) config.length_alpha = *a.alpha;
  if (a.lambda) config.orpo_lambda = *a.lambda;
  if (a.rpo_alpha) config.rpo_alpha = *a.rpo_alpha;
  if (a.tau) config.discopop_tau = *a.tau;
  if (a.delta) config.bco_delta = *a.delta;

  const size_t pairs = a.policy_chosen.size();
  if (pairs == 0) throw ConfigError("loss: --policy-chosen is required (one log-prob per pair)");
  check_count(a.policy_rejected, pairs, "--policy-rejected");
  PreferenceLogps logps{.policy_chosen = tensor(a.policy_chosen),
                        .policy_rejected = tensor(a.policy_rejected)};
  if (needs_reference(config)) {
    if (a.ref_chosen.empty() || a.ref_rejected.empty())
      throw ConfigError("loss: --ref-chosen and --ref-rejected are needed by this loss");
    check_count(a.ref_chosen, pairs, "--ref-chosen");
    check_count(a.ref_rejected, pairs, "--ref-rejected");
    logps.reference_chosen = tensor(a.ref_chosen);
    logps.reference_rejected = tensor(a.ref_rejected);
  }
  if (needs_lengths(config)) {
    if (a.chosen_lengths.empty() || a.rejected_lengths.empty())
      throw ConfigError(
          "loss: this loss uses response lengths: pass --chosen-lengths and --rejected-lengths");
    check_count(a.chosen_lengths, pairs, "--chosen-lengths");
    check_count(a.rejected_lengths, pairs, "--rejected-lengths");
    for (double n : a.chosen_lengths)
      if (!(n > 0)) throw ConfigError("loss: response lengths must be > 0");
    for (double n : a.rejected_lengths)
      if (!(n > 0)) throw ConfigError("loss: response lengths must be > 0");
    logps.chosen_tokens = tensor(a.chosen_lengths);
    logps.rejected_tokens = tensor(a.rejected_lengths);
  }
  if (!a.margin.empty()) {
    check_count(a.margin, pairs, "--margin");
    logps.margin = tensor(a.margin);
  }

  const auto out = preference_loss(config, logps);
  nlohmann::ordered_json terms = nlohmann::ordered_json::array();
  for (const auto& term : config.terms)
    terms.push_back({{"type", std::string(loss_info(term.type).name)},
                     {"weight", term.weight},
                     {"formula", std::string(loss_info(term.type).formula)}});
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (size_t i = 0; i < pairs; ++i) {
    const auto k = static_cast<int64_t>(i);
    const double rw = out.chosen_rewards[k].item<double>(), rl = out.rejected_rewards[k].item<double>();
    rows.push_back({{"loss", out.losses[k].item<double>()},
                    {"chosen_reward", rw},
                    {"rejected_reward", rl},
                    {"reward_margin", rw - rl},
                    {"gradient_weight", out.gradient_weight[k].item<double>()}});
  }
  nlohmann::ordered_json result = {{"type", a.type},
                                   {"beta", config.beta},
                                   {"reference_free", !needs_reference(config)},
                                   {"rpo_alpha", config.rpo_alpha},
                                   {"terms", terms},
                                   {"mean_loss", out.losses.mean().item<double>()},
                                   {"pairs", rows}};
  std::cout << result.dump(2) << "\n";
  return 0;
}

}  // namespace dpo::cli
