#pragma once
#include <QHash>
#include <QString>
#include <QWidget>

#include "widgets/core_records.h"
#include "widgets/run_summary.h"

class QLabel;
class QPushButton;

namespace dpo::studio {

enum class RunState;

// Start / Pause / Step / Stop, Save checkpoint, Resume run and New run in one row: the window puts
// them in its toolbar, always in sight. Shows what the run state allows; the window connects them.
class RunControls : public QWidget {
  Q_OBJECT

 public:
  explicit RunControls(QWidget* parent = nullptr);

  struct Situation {
    RunState state;
    bool stepping = false;       // a Step request is in flight
    bool settings_valid = true;  // the form has no blocking problem
    bool viewing = false;        // a finished run is shown read-only
    widgets::RunSummary viewed;  // that run
    int processes = 1;           // of the run in progress: above 1 it runs in dpo processes, which
                                 // neither pause nor save a checkpoint on request
  };
  void update(const Situation& now);
  // Why each control is disabled now ("" while it is enabled), for the status bar when its shortcut
  // is pressed: keyed "start", "pause", "step", "stop", "checkpoint".
  QString whyDisabled(const QString& control) const { return why_.value(control); }

  QPushButton* startButton() const { return start_; }
  QPushButton* pauseButton() const { return pause_; }
  QPushButton* stepButton() const { return step_; }
  QPushButton* stopButton() const { return stop_; }
  QPushButton* saveCheckpointButton() const { return checkpoint_; }
  QPushButton* resumeRunButton() const { return resume_; }
  QPushButton* newRunButton() const { return new_run_; }

 private:
  QPushButton *start_ = nullptr, *pause_ = nullptr, *step_ = nullptr, *stop_ = nullptr;
  QPushButton *checkpoint_ = nullptr, *resume_ = nullptr, *new_run_ = nullptr;
  QHash<QString, QString> why_;
};

// What the run is (data, policy, compute) and the latest step's numbers, including those no plot
// shows (grad norm, learning rate, epoch).
class RunFacts : public QWidget {
  Q_OBJECT

 public:
  explicit RunFacts(QWidget* parent = nullptr);

  void setRun(const QString& data_text, const QString& model_text);
  void setRunFolderText(const QString& text, const QString& tooltip = {});
  void setPrepared(const QString& data_label, qint64 pairs, qint64 parameters, const QString& model_label);
  void setCompute(const QString& summary, const QString& details);
  void showStep(const StepMetrics& m);
  void clearStep();

 private:
  QLabel *data_ = nullptr, *model_ = nullptr, *compute_ = nullptr, *run_dir_ = nullptr;
  QHash<QString, QLabel*> latest_;
};

QString formatCount(qint64 n);  // 12.3 k, 4.56 M

}  // namespace dpo::studio
