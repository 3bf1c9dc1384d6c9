#pragma once
#include <QObject>
#include <QString>
#include <QVariantMap>

#include <deque>
#include <vector>

#include "app/studio/training_worker.h"
#include "widgets/core_records.h"

class QThread;

namespace dpo::studio {

struct RunRecords;

enum class RunState { Idle, Preparing, Running, Pausing, Paused, Stopping };

// One training run at a time: the worker on its QThread, the run state machine, and the run's
// records as they arrive. Holds no widgets; the window draws what its signals carry. Records read
// back from a run folder (replay) come through the same signals as live ones, so every view has
// one path.
class RunController : public QObject {
  Q_OBJECT

 public:
  explicit RunController(QObject* parent = nullptr);
  ~RunController() override;  // stops the run and joins its thread

  RunState state() const { return state_; }
  bool isTraining() const { return thread_ != nullptr && !lingering_; }
  // A worker holds a model that can answer the Playground now: a paused run, a finished or stopped
  // run (it lingers until the next start), or a run folder loaded by startPlayground.
  bool playgroundAvailable() const { return lingering_ || state_ == RunState::Paused; }
  // Loads `dir`'s final model (and its reference) in a worker for the Playground; no training.
  bool startPlayground(const QString& dir);
  QString playgroundDir() const { return playground_dir_; }  // whose models answer (absolute path)
  bool isStepping() const { return stepping_; }              // a Step request is in flight
  bool runFailed() const { return run_failed_; }
  qint64 stepsDone() const { return steps_done_; }
  const StudioRunConfig& activeConfig() const { return config_; }
  void setActiveConfig(const StudioRunConfig& config) { config_ = config; }  // a viewed run's
  const std::deque<StepMetrics>& records() const { return records_; }
  const std::vector<PreferenceEval>& evals() const { return evals_; }
  const std::vector<TrainerEvent>& events() const { return events_; }
  // β of the latest step, else of the run's settings.
  double currentBeta() const;

  void shutdown();                     // stop and wait for the worker (closing the window)
  void clearRecords();                 // emits recordsCleared
  void replay(const RunRecords& run);  // a run folder's records, as if they arrived live

 public Q_SLOTS:
  bool start(const StudioRunConfig& config);  // false unless idle; records are kept (see clearRecords)
  void togglePause();
  void stop();
  void stepOnce();     // while paused: one optimiser step, then paused again
  void evaluateNow();  // before the next step, or at once while paused
  void applyChanges(double beta, double learning_rate);  // while paused: from the next step on
  bool saveCheckpoint();                                 // false when no run can take it
  void requestPairTokens(qint64 line);
  void requestGeneration(const QString& prompt, int max_new_tokens, double temperature, quint64 seed);

 Q_SIGNALS:
  void stateChanged(dpo::studio::RunState state);
  void recordsCleared();
  void preparing(const QString& stage, qint64 done, qint64 total);
  void prepared(const QString& data_label, qint64 pairs, qint64 parameters, const QString& model_label);
  void stepRecorded(const dpo::StepMetrics& metrics);
  void evalRecorded(const dpo::PreferenceEval& eval);
  void eventRecorded(const dpo::TrainerEvent& event);
  void pairTokensReady(const dpo::PairTokenScores& tokens);
  void generationToken(int source, const QString& text_piece);
  void generationFinished(const dpo::widgets::PlaygroundResult& result);
  void paused(qint64 steps_done);
  void failed(const QString& message);
  void playgroundFailed(const QString& message);
  void playgroundChanged();  // playgroundAvailable() may have changed
  void runFinished(qint64 steps_done, bool stopped, bool failed);
  void runDirectoryReady(const QString& dir, qint64 resumed_from_step);  // -1: a new run
  void checkpointSaved(qint64 step, const QString& path, const QString& error);
  void lessonMeasured(const QString& label, const QVariantMap& values);

 private:
  void setState(RunState state);
  void onStep(const StepMetrics& metrics);
  void onEval(const PreferenceEval& eval);
  void onEvent(const TrainerEvent& event);
  void onPaused(qint64 steps_done);
  void onFinished(qint64 steps_done, bool stopped);
  void join();
  void releaseLingering();  // a lingering worker lets go of its models
  void makeWorker(const StudioRunConfig& config,
                  const char* thread_name);  // worker_, thread_, shared signals

  QThread* thread_ = nullptr;
  TrainingWorker* worker_ = nullptr;
  bool lingering_ = false;  // the worker's run ended; it only answers the Playground and inspector
  QString playground_dir_;  // the run folder whose models the lingering worker holds
  QString run_dir_;         // of the run training now
  RunState state_ = RunState::Idle;
  StudioRunConfig config_;
  std::deque<StepMetrics> records_;
  std::vector<PreferenceEval> evals_;
  std::vector<TrainerEvent> events_;
  bool stepping_ = false;
  qint64 steps_done_ = 0;
  bool run_failed_ = false;
};

}  // namespace dpo::studio

Q_DECLARE_METATYPE(dpo::studio::RunState)
