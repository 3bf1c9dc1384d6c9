#pragma once
#include <QList>
#include <QObject>
#include <QString>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "app/studio/metric_record.h"

namespace dpo::studio {

// What the settings panel hands to a run; a torch-free mirror of the parts of
// dpo::app::RunOptions the studio exposes.
struct StudioRunConfig {
  QString data_path;  // empty: embedded demo
  QString loss_name = QStringLiteral("sigmoid");
  double beta = 0.1;
  double learning_rate = 1e-3;
  qint64 steps = 200;
  qint64 batch_size = 8;
  int threads = 0;  // 0: keep the process-wide setting
};

// Defaults of dpo::app::RunOptions, so the studio and the CLI start from the same place.
StudioRunConfig defaultRunConfig();

struct LossChoice {
  QString name;     // CLI spelling
  QString label;    // shown in the combo
  QString formula;
};
// dpo::loss_table(), without torch headers.
QList<LossChoice> availableLosses();

// Runs one training run. Lives on its own QThread: run() is invoked there (queued) and loops over
// Trainer::step(); pause/resume/stop are called directly from the GUI thread and only touch
// atomics and a condition variable, so the GUI never waits on a step.
class TrainingWorker : public QObject {
  Q_OBJECT

 public:
  explicit TrainingWorker(StudioRunConfig config, QObject* parent = nullptr);
  ~TrainingWorker() override;

  void requestPause();
  void requestResume();
  void requestStop();  // takes effect after the step in progress

 public Q_SLOTS:
  void run();

 Q_SIGNALS:
  void prepared(const QString& data_label, qint64 pairs, qint64 parameters);
  void stepFinished(const dpo::studio::MetricRecord& record);
  void paused(qint64 steps_done);  // emitted once the worker is actually idle
  void resumed();
  void failed(const QString& message);
  // Always the last signal of a run; `stopped` when the user ended it early.
  void finished(qint64 steps_done, bool stopped);

 private:
  bool waitWhilePaused(qint64 steps_done);

  StudioRunConfig config_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool pause_requested_ = false;  // guarded by mutex_
};

}  // namespace dpo::studio
