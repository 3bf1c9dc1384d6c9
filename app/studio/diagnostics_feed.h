#pragma once
#include <QList>

#include <deque>
#include <vector>

#include "app/studio/eval_record.h"
#include "app/studio/metric_record.h"
#include "core/train/metrics.h"
#include "widgets/diagnostics_panel.h"

namespace dpo::studio {

StepMetrics toStepMetrics(const MetricRecord& record);

// The core's §10 rules over the records so far, as the panel's plain items. β is the run's (the
// records carry it); the core needs it to turn rewards back into log-ratios. The evaluations add
// the latest per-pair margins (bimodal-margin rule) and the sampled lengths (length exploitation).
QList<widgets::DiagnosticItem> diagnoseRecords(const std::deque<MetricRecord>& records, double beta,
                                               const std::vector<EvalRecord>& evals = {});

}  // namespace dpo::studio
