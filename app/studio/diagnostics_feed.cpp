#include "app/studio/diagnostics_feed.h"

#include <cmath>

#include "core/diagnose/diagnostics.h"

namespace dpo::studio {

StepMetrics toStepMetrics(const MetricRecord& r) {
  StepMetrics m;
  m.step = r.step;
  m.epoch = r.epoch;
  m.loss = r.loss;
  m.rewards_chosen = r.rewards_chosen;
  m.rewards_rejected = r.rewards_rejected;
  m.rewards_margins = r.rewards_margins;
  m.rewards_accuracies = r.rewards_accuracies;
  m.logps_chosen = r.logps_chosen;
  m.logps_rejected = r.logps_rejected;
  m.length_chosen = r.length_chosen;
  m.length_rejected = r.length_rejected;
  m.learning_rate = r.learning_rate;
  m.grad_norm = r.grad_norm;
  m.tokens = r.tokens;
  m.elapsed_seconds = r.elapsed_seconds;
  m.beta = r.beta;
  return m;
}

QList<widgets::DiagnosticItem> diagnoseRecords(const std::deque<MetricRecord>& records, double beta,
                                               const std::vector<EvalRecord>& evals) {
  diagnose::DiagnoseInput input;
  input.beta = beta;
  input.steps.reserve(records.size());
  for (const auto& r : records) input.steps.push_back(toStepMetrics(r));
  if (!evals.empty())
    for (const auto& p : evals.back().pairs) input.pair_margins.push_back(p.margin);
  for (const auto& e : evals)
    if (std::isfinite(e.sampled_length)) input.sampled_lengths.push_back({e.step, e.sampled_length});
  QList<widgets::DiagnosticItem> items;
  for (const auto& f : diagnose::diagnose(input)) {
    widgets::DiagnosticItem item;
    item.severity = f.severity == diagnose::Severity::Error     ? widgets::DiagnosticItem::Severity::Error
                    : f.severity == diagnose::Severity::Warning ? widgets::DiagnosticItem::Severity::Warning
                                                                : widgets::DiagnosticItem::Severity::Info;
    item.id = QString::fromStdString(f.id);
    item.title = QString::fromStdString(f.title);
    item.evidence = QString::fromStdString(f.evidence);
    item.meaning = QString::fromStdString(f.meaning);
    item.suggestion = QString::fromStdString(f.suggestion);
    item.reference = QString::fromStdString(f.reference);
    item.step = f.step;
    items.push_back(item);
  }
  return items;
}

}  // namespace dpo::studio
