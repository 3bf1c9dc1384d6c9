#include "app/studio/diagnostics_feed.h"

#include "app/studio/run_controller.h"
#include "core/diagnose/diagnostics.h"

namespace dpo::studio {

QList<widgets::DiagnosticItem> diagnoseRecords(const std::deque<StepMetrics>& records, double beta,
                                               const std::vector<PreferenceEval>& evals) {
  const auto input =
      diagnose::make_input(std::vector<StepMetrics>(records.begin(), records.end()), beta, evals);
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
    const auto explanation = diagnose::explanation(f.id);
    item.explanation = QString::fromUtf8(explanation.data(), static_cast<qsizetype>(explanation.size()));
    item.step = f.step;
    items.push_back(item);
  }
  return items;
}

DiagnosticsFeed::DiagnosticsFeed(const RunController* run, widgets::DiagnosticsPanel* panel, QObject* parent)
    : QObject(parent), run_(run), panel_(panel) {
  timer_.setInterval(1000);
  connect(&timer_, &QTimer::timeout, this, [this] {
    if (stale_) refresh();
  });
  connect(run_, &RunController::stepRecorded, this, [this] { stale_ = true; });
  connect(run_, &RunController::evalRecorded, this, [this] { stale_ = true; });
  connect(run_, &RunController::recordsCleared, this, [this] {
    stale_ = false;
    panel_->clear();
  });
}

void DiagnosticsFeed::refresh() {
  stale_ = false;
  ++count_;
  const auto& records = run_->records();
  panel_->setItems(diagnoseRecords(records, run_->currentBeta(), run_->evals()),
                   static_cast<qint64>(records.size()));
  const auto trend_steps = static_cast<qint64>(diagnose::limits::kMinStepsForTrend);
  const auto steps = static_cast<qint64>(records.size());
  panel_->setFootnote(
      steps > 0 && steps < trend_steps
          ? tr("The trend checks start after %1 steps (%2 so far).").arg(trend_steps).arg(steps)
          : QString());
}

void DiagnosticsFeed::start() {
  stale_ = false;
  timer_.start();
}

void DiagnosticsFeed::stop() {
  timer_.stop();
  refresh();
}

}  // namespace dpo::studio
