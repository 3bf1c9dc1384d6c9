#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "app/session/run_setup.h"
#include "core/demo/sampled_reward.h"
#include "core/eval/preference_eval.h"
#include "core/lessons/lesson.h"
#include "core/train/metrics.h"
#include "core/train/reference_logps.h"

namespace dpo::app {

// One lesson run as `dpo lesson run` and the studio's lesson mode both train it, so a class sees
// the same numbers in either: the lesson's demo variant ("demo:VARIANT", resolve_demo_data),
// every pair trained (no eval split), no tokenization cache, the lesson's seeds.
RunOptions lesson_run_options(const LessonRun& run, int64_t steps);

// The measurements a lesson check reads. Built right after prepare_run, while the policy is still
// π_ref: scores the demo's held-out pairs (true labels) under it and samples answers to their
// prompts. record() every step; finish() after the last one.
class LessonProbe {
 public:
  explicit LessonProbe(RunSetup& setup);

  void record(const StepMetrics& m) { history_.push_back(m); }
  int64_t steps() const { return static_cast<int64_t>(history_.size()); }

  // "<kind>.<metric>" values: first./min./max. over steps, mid. (the tenth ending halfway), final.
  // (the last tenth), heldout.accuracy/margin/loss/logratio_chosen/logratio_rejected (plain DPO
  // at `beta`) and sampled.reward_before/after, sampled.tokens_before/after.
  // Throws TrainingError when no step was recorded.
  std::map<std::string, double> finish(const std::string& label, double beta);

  const SampledReward& before() const { return before_; }
  const SampledReward& after() const { return after_; }

 private:
  RunSetup& setup_;
  std::vector<TokenizedPair> heldout_;
  std::vector<std::string> prompts_;
  ReferenceLogps reference_;
  SampledReward before_, after_;
  std::vector<StepMetrics> history_;
};

// The distinct prompts of the demo's held-out pairs (demo_eval_pairs): what the policy answers when its
// true reward is sampled.
std::vector<std::string> demo_heldout_prompts();

// "dpo: loss sigmoid, beta 0.1, dataset clean, lr 0.0003, 120 steps, batch 8, seed 0".
std::string describe_lesson_run(const LessonRun& run, int64_t steps);

}  // namespace dpo::app
