#pragma once
#include <QMetaType>

#include <cstdint>

namespace dpo::studio {

// dpo::StepMetrics as a torch-free value that crosses threads in queued signals; widgets and
// tests may include it. Field meanings are those of core/train/metrics.h.
struct MetricRecord {
  int64_t step = 0;
  int64_t epoch = 0;
  double loss = 0;
  double rewards_chosen = 0;    // β·log(π/π_ref)(y_w), summed over response tokens
  double rewards_rejected = 0;  // β·log(π/π_ref)(y_l)
  double rewards_margins = 0;
  double rewards_accuracies = 0;
  double logps_chosen = 0;
  double logps_rejected = 0;
  double length_chosen = 0;
  double length_rejected = 0;
  double learning_rate = 0;
  double grad_norm = 0;
  int64_t tokens = 0;
  double elapsed_seconds = 0;
  double beta = 0;  // of the run, so views can turn rewards back into log-ratios

  double logratio_chosen() const { return beta > 0 ? rewards_chosen / beta : 0.0; }
  double logratio_rejected() const { return beta > 0 ? rewards_rejected / beta : 0.0; }
};

}  // namespace dpo::studio

Q_DECLARE_METATYPE(dpo::studio::MetricRecord)
