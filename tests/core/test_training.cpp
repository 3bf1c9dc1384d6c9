#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <set>

#include "core/data/jsonl_reader.h"
#include "core/data/kto_rows.h"
#include "core/data/tokenize.h"
#include "core/eval/preference_eval.h"
#include "core/generate/generate.h"
#include "core/generate/stream.h"
#include "core/runtime/error.h"
#include "core/tokenizer/sentencepiece_tokenizer.h"
#include "core/train/checkpoint.h"
#include "core/train/trainer.h"
#include "resources/demo_assets.h"

#include "training_fixtures.h"

using namespace dpo_test;

TEST(Training, DpoLearnsTheDemoPreferences) {
  torch::set_num_threads(2);
  auto trainer = demo_trainer(demo_config(60), 48);
  auto pairs = demo_pairs(48);
  auto before =
      dpo::evaluate_preferences(trainer->policy(), trainer->reference(), pairs, kPad, trainer->config().loss);
  // Policy == reference at the start: every margin is exactly 0, so nothing counts as won, and each
  // pair's DPO gradient weight is σ(0) = 0.5.
  EXPECT_EQ(before.accuracy, 0.0);
  EXPECT_NEAR(before.mean_loss, std::log(2.0), 1e-6);
  for (const auto& r : before.pairs) {
    EXPECT_NEAR(r.gradient_weight, 0.5, 1e-6);
    EXPECT_TRUE(r.misranked);
  }

  std::vector<dpo::StepMetrics> history;
  dpo::train(*trainer, [&](const dpo::StepMetrics& m) {
    history.push_back(m);
    return true;
  });
  ASSERT_EQ(history.size(), 60u);
  EXPECT_NEAR(history.front().loss, std::log(2.0), 1e-4);  // first step: π = π_ref
  EXPECT_NEAR(history.front().rewards_margins, 0.0, 1e-5);
  for (const auto& m : history) ASSERT_TRUE(std::isfinite(m.loss) && !m.skipped) << "step " << m.step;

  auto after =
      dpo::evaluate_preferences(trainer->policy(), trainer->reference(), pairs, kPad, trainer->config().loss);
  EXPECT_GT(after.accuracy, 0.9);
  EXPECT_GT(after.mean_margin, 0.5);
  EXPECT_LT(after.mean_loss, before.mean_loss);
  EXPECT_GT(history.back().length_chosen, 1.0);
  // The weight is σ(r_l − r_w) for plain DPO, pair by pair.
  for (const auto& r : after.pairs)
    EXPECT_NEAR(r.gradient_weight, 1.0 / (1.0 + std::exp(r.margin)), 1e-5) << "line " << r.line;
}

TEST(Training, CancelStopsBetweenSteps) {
  auto trainer = demo_trainer(demo_config(50), 16);
  std::atomic<bool> cancel{false};
  const auto steps = dpo::train(
      *trainer,
      [&](const dpo::StepMetrics& m) {
        if (m.step == 3) cancel = true;
        return true;
      },
      &cancel);
  EXPECT_EQ(steps, 3);
  EXPECT_EQ(trainer->steps_done(), 3);
}

TEST(Training, ReferenceStaysFrozen) {
  auto trainer = demo_trainer(demo_config(3), 16);
  std::vector<torch::Tensor> before;
  for (const auto& p : (*trainer->reference())->parameters()) before.push_back(p.clone());
  dpo::train(*trainer, nullptr);
  size_t i = 0;
  for (const auto& p : (*trainer->reference())->parameters()) EXPECT_TRUE(torch::equal(p, before[i++]));
  EXPECT_FALSE(
      torch::equal(trainer->policy()->parameters().front(), (*trainer->reference())->parameters().front()));
}

TEST(Training, StepsReportTheScheduledLearningRate) {
  auto config = demo_config(4);
  config.warmup_steps = 2;
  config.schedule = dpo::LrSchedule::Linear;
  auto trainer = demo_trainer(config, 16);
  std::vector<double> rates;
  dpo::train(*trainer, [&](const dpo::StepMetrics& m) {
    rates.push_back(m.learning_rate);
    return true;
  });
  // steps 0..3 of 4 with warmup 2: 0, 0.5, then 1 − (s − 2)/2: 1, 0.5 (times 1e-3).
  ASSERT_EQ(rates.size(), 4u);
  EXPECT_DOUBLE_EQ(rates[0], 0.0);
  EXPECT_DOUBLE_EQ(rates[1], 5e-4);
  EXPECT_DOUBLE_EQ(rates[2], 1e-3);
  EXPECT_DOUBLE_EQ(rates[3], 5e-4);
}

// k micro-batches of n pairs give the gradient of one batch of k·n pairs, although the micro-batches
// hold different numbers of tokens (and so different padding).
TEST(Training, GradientAccumulationMatchesOneBigBatch) {
  for (auto objective : {dpo::Objective::Preference, dpo::Objective::Sft}) {
    auto one = demo_config(1);
    one.objective = objective;
    one.max_grad_norm = 0;  // gradients are compared as computed, not clipped
    one.batch_size = 8;
    auto split = one;
    split.batch_size = 2;
    split.grad_accumulation = 4;
    auto a = demo_trainer(one, 8);
    auto b = demo_trainer(split, 8);
    const auto ma = a->step();
    const auto mb = b->step();
    const auto ga = grads_of(a->policy()), gb = grads_of(b->policy());
    EXPECT_GT(max_abs(ga), 1e-3);
    EXPECT_LT(max_abs_diff(ga, gb), 1e-6) << (objective == dpo::Objective::Sft ? "sft" : "dpo");
    EXPECT_NEAR(ma.loss, mb.loss, 1e-6);
    EXPECT_EQ(ma.tokens, mb.tokens);
  }
  // The micro-batches really differ in token counts.
  auto pairs = demo_pairs(8);
  std::set<size_t> sizes;
  for (const auto& p : pairs) sizes.insert(p.prompt_ids.size() + p.chosen_ids.size());
  EXPECT_GT(sizes.size(), 2u);
}

TEST(Training, ReferenceRunsOnceNotEveryEpoch) {
  auto precomputed = demo_config(6);  // 16 pairs, batch 8: three epochs
  auto live = precomputed;
  live.precompute_reference = false;
  auto a = demo_trainer(precomputed, 16);
  auto b = demo_trainer(live, 16);
  std::vector<double> la, lb;
  dpo::train(*a, [&](const dpo::StepMetrics& m) {
    la.push_back(m.loss);
    return true;
  });
  dpo::train(*b, [&](const dpo::StepMetrics& m) {
    lb.push_back(m.loss);
    return true;
  });
  EXPECT_EQ(a->counters().reference_precomputed, 16);
  EXPECT_EQ(a->counters().reference_forwards, 0);  // no step ran π_ref
  EXPECT_EQ(b->counters().reference_forwards, 6);
  for (size_t i = 0; i < la.size(); ++i) EXPECT_NEAR(la[i], lb[i], 1e-5) << "step " << i + 1;
}

TEST(Training, ReferenceLogpsComeFromTheDiskCacheTheSecondTime) {
  TempDir dir;
  auto first = demo_trainer(demo_config(1), 16, 4, dir.path);
  first->prepare();
  EXPECT_EQ(first->counters().reference_precomputed, 20);
  EXPECT_FALSE(first->counters().reference_from_cache);
  auto second = demo_trainer(demo_config(1), 16, 4, dir.path);
  second->prepare();
  EXPECT_EQ(second->counters().reference_precomputed, 0);
  EXPECT_TRUE(second->counters().reference_from_cache);
  EXPECT_EQ(first->step().loss, second->step().loss);
}

TEST(Training, ProgressReturningFalseCancelsTheReferencePass) {
  auto config = demo_config(1);
  config.eval_batch_size = 4;  // 16 pairs: a report every 4
  auto trainer = demo_trainer(config, 16);
  int reports = 0;
  dpo::TrainerCallbacks callbacks;
  callbacks.on_progress = [&](const std::string&, size_t, size_t) { return ++reports < 2; };
  EXPECT_THROW(trainer->prepare(callbacks), dpo::Cancelled);
  EXPECT_EQ(reports, 2);
}

TEST(Training, NonFiniteStepsAreSkippedAndStopTheRun) {
  auto config = demo_config(10);
  config.max_nonfinite_steps = 3;
  auto trainer = demo_trainer(config, 16);
  {
    torch::NoGradGuard no_grad;
    trainer->policy()->parameters().back().fill_(std::numeric_limits<float>::quiet_NaN());
  }
  auto untouched = trainer->policy()->parameters().front().clone();
  std::vector<dpo::TrainerEvent> events;
  dpo::TrainerCallbacks callbacks;
  callbacks.on_event = [&](const dpo::TrainerEvent& e) { events.push_back(e); };
  callbacks.on_step = [](const dpo::StepMetrics& m) {
    EXPECT_TRUE(m.skipped);
    return true;
  };
  try {
    dpo::train(*trainer, callbacks);
    FAIL() << "expected TrainingError";
  } catch (const dpo::TrainingError& e) {
    EXPECT_NE(std::string(e.what()).find("3 consecutive steps with a non-finite loss or gradient"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("pairs on lines"), std::string::npos) << e.what();
  }
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].kind, "nonfinite");
  EXPECT_EQ(events[0].step, 1);
  EXPECT_EQ(events[0].pair_lines.size(), 8u);
  EXPECT_TRUE(torch::equal(trainer->policy()->parameters().front(), untouched));  // no update happened
}

TEST(Training, TrDpoMixesThePolicyIntoTheReference) {
  auto config = demo_config(2);
  config.sync_reference_every = 2;
  config.sync_reference_alpha = 0.6;
  auto trainer = demo_trainer(config, 16);
  trainer->step();
  std::vector<torch::Tensor> ref_before;
  for (const auto& p : (*trainer->reference())->parameters()) ref_before.push_back(p.clone());
  trainer->step();  // step 2: π_ref ← 0.6·π + 0.4·π_ref
  auto policy = trainer->policy()->parameters();
  size_t i = 0;
  for (const auto& p : (*trainer->reference())->parameters()) {
    auto expected = 0.6 * policy[i] + 0.4 * ref_before[i];
    EXPECT_LT((p - expected).abs().max().item<double>(), 1e-6);
    ++i;
  }
}

TEST(Training, SftFitsTheChosenCompletions) {
  auto config = demo_config(40);
  config.objective = dpo::Objective::Sft;
  config.learning_rate = 3e-3;
  auto trainer = demo_trainer(config, 48);
  EXPECT_EQ(trainer->reference(), nullptr);  // SFT keeps no second model
  std::vector<double> nll;
  dpo::train(*trainer, [&](const dpo::StepMetrics& m) {
    nll.push_back(m.loss);
    return true;
  });
  // A freshly initialised model is close to uniform over the 400 tokens: NLL ≈ ln 400 = 5.99.
  EXPECT_NEAR(nll.front(), std::log(400.0), 0.3);
  EXPECT_LT(nll.back(), nll.front() - 1.5);
}

TEST(Training, EvaluationRecordsEveryEvalPair) {
  auto config = demo_config(4);
  config.eval_every = 2;
  config.sample_prompts = 2;
  config.sample_max_new_tokens = 8;
  auto trainer = demo_trainer(config, 16, 6);
  std::vector<dpo::PreferenceEval> evals;
  dpo::train(*trainer,
             dpo::TrainerCallbacks{.on_eval = [&](const dpo::PreferenceEval& e) { evals.push_back(e); }});
  ASSERT_EQ(evals.size(), 2u);
  EXPECT_EQ(evals[0].step, 2);
  EXPECT_EQ(evals[1].step, 4);
  ASSERT_EQ(evals[1].pairs.size(), 6u);
  double accurate = 0;
  for (const auto& r : evals[1].pairs) {
    EXPECT_EQ(r.step, 4);
    EXPECT_NEAR(r.margin, 0.1 * (r.logratio_chosen - r.logratio_rejected), 1e-9);
    EXPECT_EQ(r.misranked, !(r.margin > 0));
    accurate += r.misranked ? 0 : 1;
  }
  EXPECT_DOUBLE_EQ(evals[1].accuracy, accurate / 6.0);
  EXPECT_GE(evals[1].sampled_length, 1.0);
  EXPECT_LE(evals[1].sampled_length, 8.0);
}

// KL(π‖π_ref) on the policy's own samples: exactly 0 before the first step (π = π_ref), then the
// mean over the sampled answers of log π − log π_ref, recomputed here from the same samples.
TEST(Training, SampledKlEstimatesPolicyDrift) {
  auto config = demo_config(6);
  config.learning_rate = 3e-3;
  config.sample_prompts = 3;
  config.sample_max_new_tokens = 6;
  auto trainer = demo_trainer(config, 16, 6);
  const auto before = trainer->evaluate();
  ASSERT_TRUE(std::isfinite(before.sampled_kl));
  EXPECT_NEAR(before.sampled_kl, 0.0, 1e-9);
  dpo::train(*trainer, dpo::TrainerCallbacks{});
  const auto after = trainer->evaluate();

  std::vector<std::vector<int64_t>> prompts;
  for (size_t i = 0; i < 3; ++i) prompts.push_back(trainer->eval_pairs()[i].prompt_ids);
  dpo::GenerationConfig g;
  g.max_new_tokens = 6;
  g.temperature = 1.0;
  g.seed = config.seed;
  g.stop_token_ids.push_back(2);  // demo_trainer's eos
  auto policy = trainer->policy();
  const auto answers = dpo::generate(policy, prompts, kPad, g);
  double kl = 0;
  for (size_t i = 0; i < answers.size(); ++i)
    kl += dpo::answer_logp(policy, prompts[i], answers[i].tokens) -
          dpo::answer_logp(*trainer->reference(), prompts[i], answers[i].tokens);
  EXPECT_NEAR(after.sampled_kl, kl / 3.0, 1e-9);
  EXPECT_GT(std::abs(after.sampled_kl), 1e-4);  // the policy moved
}

TEST(Training, BetaChangeTakesEffectNextStep) {
  auto trainer = demo_trainer(demo_config(3), 16);
  EXPECT_EQ(trainer->step().beta, 0.1);
  auto event = trainer->set_beta(0.3);
  EXPECT_EQ(event.kind, "beta");
  EXPECT_EQ(event.step, 1);
  EXPECT_EQ(trainer->step().beta, 0.3);
}

TEST(Training, KtoRowsPairEachCompletionWithTheNextForTheKlEstimate) {
  auto pairs = demo_pairs(3);
  auto examples = dpo::unpair(pairs);  // y_w desirable, y_l undesirable, in pair order
  ASSERT_EQ(examples.size(), 6u);
  EXPECT_TRUE(examples[0].label);
  EXPECT_FALSE(examples[1].label);
  EXPECT_EQ(examples[1].completion_ids, pairs[0].rejected_ids);
  auto rows = dpo::make_kto_rows(examples);
  ASSERT_EQ(rows.rows.size(), 6u);
  EXPECT_EQ(rows.rows[0].chosen_ids, pairs[0].chosen_ids);
  EXPECT_EQ(rows.rows[0].rejected_ids, pairs[0].rejected_ids);  // the next example's completion
  EXPECT_EQ(rows.rows[5].rejected_ids, pairs[0].chosen_ids);    // wraps around
  EXPECT_EQ(rows.desirable, (std::vector<bool>{true, false, true, false, true, false}));
}

TEST(Training, KtoSeparatesDesirableFromUndesirable) {
  auto rows = dpo::make_kto_rows(dpo::unpair(demo_pairs(24)));
  dpo::TrainerInputs in;
  in.policy = demo_policy();
  in.train_pairs = rows.rows;
  in.train_desirable = rows.desirable;
  in.pad_id = kPad;
  auto config = demo_config(30);
  config.loss.type = dpo::LossType::Kto;
  dpo::Trainer trainer(std::move(in), config);
  std::vector<dpo::StepMetrics> history;
  dpo::train(trainer, [&](const dpo::StepMetrics& m) {
    history.push_back(m);
    return true;
  });
  // π = π_ref: every reward is 0 and z₀ = max(0, 0) = 0, so each loss is 1 − σ(0) = 0.5.
  EXPECT_NEAR(history.front().loss, 0.5, 1e-6);
  EXPECT_EQ(history.front().kl, 0.0);
  const auto& last = history.back();
  EXPECT_LT(last.loss, 0.45);
  EXPECT_GT(last.rewards_chosen, 0.0);
  EXPECT_LT(last.rewards_rejected, 0.0);
  // A pairwise loss on KTO rows is refused with a clear message.
  dpo::TrainerInputs bad;
  bad.policy = demo_policy();
  bad.train_pairs = rows.rows;
  bad.train_desirable = rows.desirable;
  EXPECT_THROW(dpo::Trainer(std::move(bad), demo_config(1)), dpo::ConfigError);
}

TEST(Training, LengthGroupingCutsPadding) {
  auto plain = demo_config(12);  // 96 pairs, batch 8: one epoch
  plain.pad_to_multiple_of = 1;
  auto grouped = plain;
  grouped.group_by_length = true;
  auto a = demo_trainer(plain, 96), b = demo_trainer(grouped, 96);
  double pa = 0, pb = 0;
  dpo::train(*a, [&](const dpo::StepMetrics& m) {
    pa = m.padding_ratio;
    return true;
  });
  dpo::train(*b, [&](const dpo::StepMetrics& m) {
    pb = m.padding_ratio;
    return true;
  });
  EXPECT_GT(pa, 0.1);
  EXPECT_LT(pb, 0.6 * pa) << "plain " << pa << ", grouped " << pb;
}

TEST(Training, NewVariantsLearnTheDemoPreferences) {
  // Issue 14's added losses and options, each 15 steps on the demo: finite throughout and above chance
  // on the pairs they trained on.
  torch::set_num_threads(2);
  struct Variant {
    const char* name;
    dpo::LossType type;
    bool wpo;
    double ld_alpha;
  };
  const Variant variants[] = {{"aot", dpo::LossType::Aot, false, 1.0},
                              {"aot_unpaired", dpo::LossType::AotUnpaired, false, 1.0},
                              {"sigmoid_norm", dpo::LossType::SigmoidNorm, false, 1.0},
                              {"fdpo_forward_kl", dpo::LossType::FdpoForwardKl, false, 1.0},
                              {"fdpo_js", dpo::LossType::FdpoJs, false, 1.0},
                              {"fdpo_alpha", dpo::LossType::FdpoAlpha, false, 1.0},
                              {"wpo", dpo::LossType::Sigmoid, true, 1.0},
                              {"ld_alpha 0.5", dpo::LossType::Sigmoid, false, 0.5}};
  for (const auto& v : variants) {
    auto config = demo_config(15);
    config.loss.type = v.type;
    config.loss.beta = v.type == dpo::LossType::SigmoidNorm ? 2.0 : 0.1;
    config.loss.wpo_weighting = v.wpo;
    config.loss.ld_alpha = v.ld_alpha;
    auto trainer = demo_trainer(config, 32);
    std::vector<dpo::StepMetrics> history;
    dpo::train(*trainer, [&](const dpo::StepMetrics& m) {
      history.push_back(m);
      return true;
    });
    ASSERT_EQ(history.size(), 15u) << v.name;
    for (const auto& m : history)
      ASSERT_TRUE(std::isfinite(m.loss) && !m.skipped) << v.name << " step " << m.step;
    // WPO scales each pair's ln 2 by its weight min(1, e^{w̄_w + w̄_l}) < 1 at the first step.
    if (v.wpo) {
      EXPECT_LT(history.front().loss, std::log(2.0) - 1e-3) << v.name;
    }
    auto after =
        dpo::evaluate_preferences(trainer->policy(), trainer->reference(), demo_pairs(32), kPad, config.loss);
    EXPECT_GT(after.accuracy, 0.6) << v.name;
  }
}
