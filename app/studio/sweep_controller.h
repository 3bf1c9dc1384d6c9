#pragma once
#include <QObject>
#include <QString>
#include <QStringList>

#include "widgets/sweep_view.h"

class QProcess;
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
  ~SweepController() override;

  // `dpo sweep` arguments for the form's βs, losses and steps on top of `base` (model, data, …).
  void start(const QStringList& base_arguments, const QString& out_dir);
  void stop();
  void open(const QString& dir);
  bool isRunning() const;
  void setCliPath(const QString& path) { cli_ = path; }
  QString cliPath() const { return cli_; }

 Q_SIGNALS:
  void finished(bool ok);

 private:
  widgets::SweepView* view_;
  QProcess* process_ = nullptr;
  QTimer* poll_ = nullptr;
  QString cli_;
  QString dir_;
  QString last_line_;
};

}  // namespace dpo::studio
