#pragma once
#include <QList>
#include <QObject>
#include <QTimer>

#include <deque>
#include <vector>

#include "widgets/core_records.h"
#include "widgets/diagnostics_panel.h"

namespace dpo::studio {

class RunController;

// The core's diagnostic rules over the records so far, as the panel's plain items, each with its
// explanation. β is the run's; the core needs it to turn rewards back into log-ratios. The
// evaluations add the latest per-pair margins (bimodal margins), the sampled lengths (length
// exploitation) and the held-out loss and accuracy (overfitting, chosen answers falling).
QList<widgets::DiagnosticItem> diagnoseRecords(const std::deque<StepMetrics>& records, double beta,
                                               const std::vector<PreferenceEval>& evals = {});

// Keeps the Diagnostics panel current with the controller's records: at most once a second while
// a run trains (the rules describe trends; a fast run delivers dozens of steps a second), and at
// once on refresh().
class DiagnosticsFeed : public QObject {
  Q_OBJECT

 public:
  DiagnosticsFeed(const RunController* run, widgets::DiagnosticsPanel* panel, QObject* parent = nullptr);

  void refresh();
  void start();                         // a run began: refresh while records arrive
  void stop();                          // the run ended: one last refresh
  int count() const { return count_; }  // refreshes so far

 private:
  const RunController* run_;
  widgets::DiagnosticsPanel* panel_;
  QTimer timer_;
  bool stale_ = false;
  int count_ = 0;
};

}  // namespace dpo::studio
