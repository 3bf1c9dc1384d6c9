#include "app/studio/record_convert.h"

namespace dpo::studio {

MetricRecord toRecord(const StepMetrics& m, double fallback_beta) {
  MetricRecord r;
  r.step = m.step;
  r.epoch = m.epoch;
  r.loss = m.loss;
  r.rewards_chosen = m.rewards_chosen;
  r.rewards_rejected = m.rewards_rejected;
  r.rewards_margins = m.rewards_margins;
  r.rewards_accuracies = m.rewards_accuracies;
  r.logps_chosen = m.logps_chosen;
  r.logps_rejected = m.logps_rejected;
  r.length_chosen = m.length_chosen;
  r.length_rejected = m.length_rejected;
  r.learning_rate = m.learning_rate;
  r.grad_norm = m.grad_norm;
  r.tokens = m.tokens;
  r.elapsed_seconds = m.elapsed_seconds;
  r.beta = m.beta > 0 ? m.beta : fallback_beta;
  return r;
}

EvalRecord toRecord(const PreferenceEval& e, double beta) {
  EvalRecord r;
  r.step = e.step;
  r.loss = e.mean_loss;
  r.rewards_chosen = e.rewards_chosen;
  r.rewards_rejected = e.rewards_rejected;
  r.margin = e.mean_margin;
  r.accuracy = e.accuracy;
  r.length_chosen = e.length_chosen;
  r.length_rejected = e.length_rejected;
  r.sampled_length = e.sampled_length;
  r.sampled_kl = e.sampled_kl;
  r.beta = beta;
  r.pairs.reserve(static_cast<qsizetype>(e.pairs.size()));
  for (const auto& p : e.pairs) {
    PairEvalRecord q;
    q.step = e.step;
    q.line = static_cast<int64_t>(p.line);
    q.logratio_chosen = p.logratio_chosen;
    q.logratio_rejected = p.logratio_rejected;
    q.reward_chosen = p.reward_chosen;
    q.reward_rejected = p.reward_rejected;
    q.margin = p.margin;
    q.misranked = p.misranked;
    q.loss = p.loss;
    q.gradient_weight = p.gradient_weight;
    q.length_chosen = p.length_chosen;
    q.length_rejected = p.length_rejected;
    r.pairs.push_back(q);
  }
  return r;
}

RunEventRecord toRecord(const TrainerEvent& e) {
  return {e.step, QString::fromStdString(e.kind), QString::fromStdString(e.message)};
}

}  // namespace dpo::studio
