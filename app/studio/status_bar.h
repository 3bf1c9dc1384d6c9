#pragma once
#include <QObject>
#include <QString>

#include <deque>

#include "widgets/core_records.h"

class QLabel;
class QStatusBar;

namespace dpo::widgets {
class ProgressStrip;
}

namespace dpo::studio {

enum class RunState;

// The window's status bar: run state (bold), the preparation strip with its Cancel, and the
// step, loss, accuracy and speed of the latest step.
class StatusLine : public QObject {
  Q_OBJECT

 public:
  explicit StatusLine(QStatusBar* bar);

  struct Situation {
    RunState state;
    bool stepping = false;
    bool failed = false;
    bool has_records = false;
    QString viewing;  // the name of a run shown read-only, or empty
  };
  void showState(const Situation& now);
  void setStateText(const QString& text);
  void showStep(const StepMetrics& m, qint64 total_steps, const std::deque<StepMetrics>& records);
  void showStepCount(qint64 done, qint64 total);
  void clear();  // step numbers, not the state
  widgets::ProgressStrip* progress() const { return progress_; }

 private:
  QLabel *state_ = nullptr, *step_ = nullptr, *loss_ = nullptr, *accuracy_ = nullptr, *speed_ = nullptr;
  widgets::ProgressStrip* progress_ = nullptr;  // preparation: stage, bar, Cancel
};

QString formatDuration(double seconds);  // "45 s", "3 min 05 s", "1 h 20 min"

}  // namespace dpo::studio
