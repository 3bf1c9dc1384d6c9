#pragma once
#include <QList>

#include <deque>

#include "app/studio/metric_record.h"
#include "core/train/metrics.h"
#include "widgets/diagnostics_panel.h"

namespace dpo::studio {

StepMetrics toStepMetrics(const MetricRecord& record);

// The core's §10 rules over the records so far, as the panel's plain items. β is the run's (the
// records carry it); the core needs it to turn rewards back into log-ratios.
QList<widgets::DiagnosticItem> diagnoseRecords(const std::deque<MetricRecord>& records, double beta);

}  // namespace dpo::studio
