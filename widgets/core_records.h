#pragma once
// The core's torch-free value types as Qt metatypes, so they cross threads in queued signals and the
// views draw them as they are (no field-by-field copies).
#include <QMetaType>

#include "core/types/eval_records.h"
#include "core/types/step_metrics.h"
#include "core/types/train_config.h"

Q_DECLARE_METATYPE(dpo::StepMetrics)
Q_DECLARE_METATYPE(dpo::PreferenceEval)
Q_DECLARE_METATYPE(dpo::PairRecord)
Q_DECLARE_METATYPE(dpo::PairTokenScores)
Q_DECLARE_METATYPE(dpo::TrainerEvent)
