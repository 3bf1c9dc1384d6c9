#pragma once
// Core structs → the studio's torch-free records. Shared by the training worker (live) and the run
// catalog (read back from a run directory). Includes core headers: only for .cpp files.
#include "app/studio/eval_record.h"
#include "app/studio/metric_record.h"
#include "core/eval/preference_eval.h"
#include "core/train/metrics.h"
#include "core/train/trainer.h"

namespace dpo::studio {

// `fallback_beta` when the step carries none (older metrics lines).
MetricRecord toRecord(const StepMetrics& m, double fallback_beta);
EvalRecord toRecord(const PreferenceEval& e, double beta);
RunEventRecord toRecord(const TrainerEvent& e);

}  // namespace dpo::studio
