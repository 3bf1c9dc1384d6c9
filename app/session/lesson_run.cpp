#include "app/session/lesson_run.h"

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>
#include <sstream>

#include "core/data/tokenize.h"
#include "core/demo/demo_datasets.h"
#include "core/runtime/error.h"
#include "core/train/losses.h"
#include "core/train/trainer.h"
#include "resources/demo_assets.h"

namespace dpo::app {

namespace {

// Numeric fields of a step record, by TRL name.
std::map<std::string, double> numbers_of(const StepMetrics& m) {
  std::map<std::string, double> out;
  const nlohmann::json j = m;
  for (const auto& [key, value] : j.items())
    if (value.is_number()) out[key] = value.get<double>();
  return out;
}

std::vector<std::string> distinct_prompts(const std::vector<PreferencePair>& pairs) {
  std::vector<std::string> prompts;
  std::set<std::string> seen;
  for (const auto& p : pairs)
    if (seen.insert(p.prompt).second) prompts.push_back(p.prompt);
  return prompts;
}

int64_t pad_of(const Tokenizer& tokenizer) {
  return tokenizer.pad_id().value_or(tokenizer.eos_id().value_or(0));
}

}  // namespace

std::vector<std::string> demo_heldout_prompts() {
  return distinct_prompts(demo_eval_pairs(resources::kDemoSeed));
}

RunOptions lesson_run_options(const LessonRun& run, int64_t steps) {
  RunOptions options;
  options.data_path = kDemoDataPrefix + run.dataset;
  options.eval_fraction = 0;
  options.no_cache = true;
  auto& t = options.trainer;
  t.objective = run.objective == "sft" ? Objective::Sft : Objective::Preference;
  const auto loss = parse_loss_type(run.loss);
  if (!loss) throw ConfigError("lesson run " + run.label + ": unknown loss '" + run.loss + "'");
  t.loss.type = *loss;
  t.loss.beta = run.beta;
  t.loss.label_smoothing = run.label_smoothing;
  t.loss.length_alpha = run.length_alpha;
  t.learning_rate = run.learning_rate;
  t.max_steps = steps;
  t.batch_size = run.batch_size;
  t.seed = run.seed;
  t.eval_every = 0;
  t.measure_sampled_length = false;
  return options;
}

LessonProbe::LessonProbe(RunSetup& setup) : setup_(setup) {
  auto& policy = setup.trainer->policy();
  const auto& tokenizer = *setup.tokenizer;
  // The held-out split (never trained on) scored against the starting policy, which is π_ref.
  const auto heldout = demo_eval_pairs(resources::kDemoSeed);
  heldout_ = tokenize_pairs(tokenizer, heldout, TokenizeOptions{});
  prompts_ = demo_heldout_prompts();
  {
    torch::NoGradGuard no_grad;
    policy->eval();
    reference_ = compute_reference_logps(policy, heldout_, pad_of(tokenizer), 16);
  }
  before_ = sample_true_reward(policy, tokenizer, prompts_);
}

std::map<std::string, double> LessonProbe::finish(const std::string& label, double beta) {
  if (history_.empty()) throw TrainingError("lesson run " + label + ": no steps were run");
  std::map<std::string, double> values;
  // first: step 1; final: the mean of the last tenth of the steps (one batch alone is noisy); mid:
  // the mean of the tenth ending halfway, so final against mid tells still growing from levelled off.
  const size_t n = history_.size();
  const size_t tail = std::max<size_t>(1, n / 10);
  const size_t mid_end = std::max(tail, n / 2);
  std::map<std::string, double> final_sum, mid_sum;
  for (size_t i = 0; i < n; ++i) {
    for (const auto& [key, v] : numbers_of(history_[i])) {
      if (i == 0) {
        values["first." + key] = v;
        values["min." + key] = v;
        values["max." + key] = v;
      }
      values["min." + key] = std::min(values["min." + key], v);
      values["max." + key] = std::max(values["max." + key], v);
      if (i + tail >= n) final_sum[key] += v / static_cast<double>(tail);
      if (i < mid_end && i + tail >= mid_end) mid_sum[key] += v / static_cast<double>(tail);
    }
  }
  for (const auto& [key, v] : mid_sum) values["mid." + key] = v;
  for (const auto& [key, v] : final_sum) values["final." + key] = v;

  auto& policy = setup_.trainer->policy();
  const auto& tokenizer = *setup_.tokenizer;
  // The plain DPO loss at the run's β, so runs with different losses compare on one scale.
  LossConfig heldout_loss;
  heldout_loss.beta = beta;
  auto eval =
      evaluate_preferences(policy, nullptr, heldout_, pad_of(tokenizer), heldout_loss, 16, &reference_);
  double a = 0, b = 0;
  for (const auto& r : eval.pairs) {
    a += r.logratio_chosen / static_cast<double>(eval.pairs.size());
    b += r.logratio_rejected / static_cast<double>(eval.pairs.size());
  }
  values["heldout.accuracy"] = eval.accuracy;
  values["heldout.margin"] = eval.mean_margin;
  values["heldout.loss"] = eval.mean_loss;
  values["heldout.logratio_chosen"] = a;
  values["heldout.logratio_rejected"] = b;

  after_ = sample_true_reward(policy, tokenizer, prompts_);
  values["sampled.reward_before"] = before_.mean_reward;
  values["sampled.reward_after"] = after_.mean_reward;
  values["sampled.tokens_before"] = before_.mean_tokens;
  values["sampled.tokens_after"] = after_.mean_tokens;
  return values;
}

std::string describe_lesson_run(const LessonRun& r, int64_t steps) {
  std::ostringstream s;
  s << r.label << ": "
    << (r.objective == "sft" ? std::string("SFT on chosen")
                             : "loss " + r.loss + ", beta " + nlohmann::json(r.beta).dump())
    << ", dataset " << r.dataset << ", lr " << r.learning_rate << ", " << steps << " steps, batch "
    << r.batch_size << ", seed " << r.seed;
  if (r.label_smoothing > 0) s << ", label smoothing " << r.label_smoothing;
  if (r.loss == "rdpo-length") s << ", length alpha " << r.length_alpha;
  return s.str();
}

}  // namespace dpo::app
