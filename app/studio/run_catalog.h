#pragma once
// Run directories for the studio: listing, summaries, reading a run's records back, and naming
// runs in a comparison. Torch-free header.
#include <QList>
#include <QString>
#include <QStringList>

#include <vector>

#include "widgets/core_records.h"
#include "widgets/run_summary.h"

namespace dpo::studio {

using widgets::RunSummary;

// $DPO_STUDIO_RUNS, else $XDG_DATA_HOME/dpo-studio/runs, else ~/.local/share/dpo-studio/runs.
QString defaultRunsRoot();

RunSummary summarizeRun(const QString& dir);
// Run directories under `root` (those with a config.json), newest first.
QList<RunSummary> listRuns(const QString& root);

// A run's records, as the worker would have emitted them live.
struct RunRecords {
  RunSummary summary;
  std::vector<StepMetrics> metrics;
  std::vector<PreferenceEval> evals;
  std::vector<TrainerEvent> events;
  QString error;  // one line ("…/metrics.jsonl:3: …") when the run could not be read
};
// Records with a step above `up_to_step` (>= 0) are left out: what a checkpoint of that step saw.
RunRecords loadRunRecords(const QString& dir, qint64 up_to_step = -1);

// Legend names for runs shown together: the settings in which they differ, e.g. "β 0.1" and
// "β 0.5", or "loss ipo · lr 0.002"; the folder name when nothing differs.
QStringList differingSettingLabels(const QList<RunSummary>& runs);

}  // namespace dpo::studio
