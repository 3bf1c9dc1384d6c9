#pragma once
// For studio tests whose runs (and sweeps, rankings, synthetic pairs) must land in a scratch folder:
// torch's threads set once, DPO_STUDIO_RUNS pointed at `root`. False when the folder is unusable.
#include <QTemporaryDir>

#include <optional>

#include "core/runtime/runtime.h"

inline bool use_scratch_runs_root(const QTemporaryDir& root) {
  dpo::configure_threads(std::nullopt);
  if (!root.isValid()) return false;
  qputenv("DPO_STUDIO_RUNS", root.path().toUtf8());
  return true;
}
