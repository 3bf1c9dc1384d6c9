#pragma once
#include <QObject>
#include <QString>
#include <QStringList>

#include "app/studio/cli_job.h"
#include "widgets/sweep_view.h"

class QTimer;

namespace dpo::studio {

// sweep.json and each cell's metrics.jsonl as the Sweep tab draws them: the finished table when the
// sweep is done, else the cells finished so far (their sweep_cell.json).
widgets::SweepViewData loadSweep(const QString& dir);

// The Sweep tab's worker: runs `dpo sweep` (the CLI beside the studio binary) as a child process with
// the window's settings, follows its cells as they finish, and shows the table when it ends. A child
// process keeps a long sweep from ever blocking the window, and a rerun resumes it as the CLI does.
class SweepController : public QObject {
  Q_OBJECT

 public:
  SweepController(widgets::SweepView* view, QObject* parent = nullptr);

  // `dpo sweep` arguments for the form's βs, losses and steps on top of `base` (model, data, …).
  void start(const QStringList& base_arguments, const QString& out_dir);
  void stop();
  void open(const QString& dir);
  bool isRunning() const;
  CliJob* job() const { return job_; }

 Q_SIGNALS:
  void finished(bool ok);

 private:
  widgets::SweepView* view_;
  CliJob* job_ = nullptr;
  QTimer* poll_ = nullptr;
  QString dir_;
};

}  // namespace dpo::studio
