#pragma once
#include <QList>
#include <QObject>
#include <QString>
#include <QVariantMap>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>

#include "app/session/run_options.h"
#include "core/lessons/lesson.h"
#include "widgets/core_records.h"
#include "widgets/playground_record.h"

namespace dpo::studio {

using widgets::kPlaygroundPolicy;
using widgets::kPlaygroundReference;
using widgets::PlaygroundAnswer;
using widgets::PlaygroundResult;

// What the settings panel hands to a run: the options `dpo train` takes (app/session/run_options.h),
// plus what only the studio has.
struct StudioRunConfig {
  app::RunOptions run;             // data, model, reference, trainer, LoRA, tokenizing; empty paths: the demo
  qint64 sft_reference_steps = 0;  // > 0: first fit the model by SFT on chosen; that is π_ref and the start
  qint64 pause_after = 0;  // > 0: pause by itself once this many steps are done (screenshots, lessons)
  int threads = 0;         // 0: keep the process-wide setting
  // > 1: data parallel on this machine: `dpo train --nproc N` runs in a child process (c10d, Gloo)
  // and the worker follows the run folder its rank 0 writes; pause, step and live β / learning-rate
  // changes are not available then.
  int processes = 1;
  // Lesson mode: this run of a lesson, trained as `dpo lesson run` trains it (its dataset, objective
  // and seeds; loss, β, learning rate, steps and batch from `run`); the values its check reads come
  // back in lessonMeasured().
  std::optional<dpo::LessonRun> lesson;
  // Run directory (config.json, metrics.jsonl, ..., checkpoints/, final/): new runs go to
  // runs_root/<yyyyMMdd-HHmmss>-<loss>-b<beta>/; empty: defaultRunsRoot() (app/studio/run_catalog.h).
  QString runs_root;
  // Not empty: continue this run directory from its newest checkpoint, with its config.json settings
  // (as `dpo train --resume`); `run` is then ignored.
  QString resume_dir;
  // Not empty: no training; load this run folder's final model (and its reference) and answer the
  // Playground until released (a run reopened from the Runs list).
  QString playground_dir;
};

// The loss's CLI name ("sigmoid") of a config, for pickers and messages.
QString lossName(const app::RunOptions& run);

// Runs one training run. Lives on its own QThread: run() is invoked there (queued) and loops over
// Trainer::step(). The request*() calls come from the GUI thread and only touch atomics and
// mutex-guarded fields and wake a condition variable, so the GUI never waits on a step; the worker
// serves them between steps (or at once while paused) and answers with queued signals.
class TrainingWorker : public QObject {
  Q_OBJECT

 public:
  explicit TrainingWorker(StudioRunConfig config, QObject* parent = nullptr);
  ~TrainingWorker() override;

  void requestPause();
  void requestResume();
  void requestStop();  // takes effect after the step in progress
  // After a run ends (finished or stopped, not failed) the worker keeps its models and answers the
  // Playground and the pair inspector until released: a new run, a viewed run, or closing.
  void release();
  void requestStep();  // while paused: one optimiser step, then paused again
  // Take effect before the next step (at once while paused); each change comes back as eventLogged.
  void requestBeta(double beta);
  void requestLearningRate(double learning_rate);
  // Per-token log-ratios of the eval pair from this source line; answered by pairTokensReady.
  void requestPairTokens(qint64 line);
  void requestEvaluation();  // evaluate the eval split now (between steps, or at once while paused)
  // Writes checkpoints/step-N of the run directory between steps (at once while paused); answered
  // by checkpointSaved. Stop and the end of a run write one by themselves.
  void requestCheckpoint();
  // Playground: the policy, then the reference, answer `prompt` (encoded as the training prompts
  // are); each answer streams as generationToken pieces, then generationFinished carries both
  // answers scored under both models. Served between steps, or at once while paused.
  void requestGeneration(const QString& prompt, int max_new_tokens, double temperature, quint64 seed);

 public Q_SLOTS:
  void run();

 Q_SIGNALS:
  void prepared(const QString& data_label, qint64 pairs, qint64 parameters, const QString& model_label);
  void stepFinished(const dpo::StepMetrics& metrics);
  void evalFinished(const dpo::PreferenceEval& eval);
  void pairTokensReady(const dpo::PairTokenScores& tokens);
  void eventLogged(const dpo::TrainerEvent& event);
  // The run directory is ready (before the first step); resumed_from_step: the checkpoint's step
  // when resuming (its records beyond that step were dropped), else -1.
  void runDirectoryReady(const QString& dir, qint64 resumed_from_step);
  // A checkpoint was written (path) or could not be (error, one line).
  void checkpointSaved(qint64 step, const QString& path, const QString& error);
  // Playground: decoded text as each new token arrives; source is a PlaygroundSource (0 policy, 1 reference).
  void generationToken(int source, const QString& text_piece);
  void generationFinished(const dpo::widgets::PlaygroundResult& result);
  void paused(qint64 steps_done);  // emitted once the worker is actually idle
  void resumed();
  // Preparation (tokenizing, the reference pass): total 0 while a stage cannot count.
  void preparing(const QString& stage, qint64 done, qint64 total);
  // Lesson mode, after the last step: "<kind>.<metric>" → value, as `dpo lesson run` measures them.
  void lessonMeasured(const QString& label, const QVariantMap& values);
  void failed(const QString& message);
  void playgroundFailed(const QString& message);  // loading a run for the Playground, or a lingering error
  // Always the last signal of a run; `stopped` when the user ended it early.
  void finished(qint64 steps_done, bool stopped);

 private:
  struct GenerationRequest {
    QString prompt;
    int max_new_tokens = 64;
    double temperature = 0;
    quint64 seed = 0;
  };
  struct Requests {
    std::optional<double> beta, learning_rate;
    std::optional<qint64> pair_line;
    bool evaluate = false;
    bool checkpoint = false;
    std::optional<GenerationRequest> generation;
    bool any() const { return beta || learning_rate || pair_line || evaluate || generation || checkpoint; }
  };
  struct Session;
  // Serves requests while paused; returns false when a stop arrived.
  bool waitWhilePaused(Session& session);
  void serve(Session& session, const Requests& requests);
  void evaluate(Session& session);
  PairTokenScores scoreTokens(Session& session, qint64 line);
  void saveCheckpoint(Session& session);
  PlaygroundResult playground(Session& session, const GenerationRequest& request);
  Requests takeRequests();        // with mutex_ held
  void linger(Session& session);  // serves generation and token requests until release()
  // config_.playground_dir: load and linger; `announce` reports the loading as preparation.
  void runPlayground(bool announce = true);
  void runProcesses();  // config_.processes > 1 (training_worker_processes.cpp)

  StudioRunConfig config_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> release_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  // guarded by mutex_
  bool pause_requested_ = false;
  bool step_requested_ = false;
  Requests requests_;
};

}  // namespace dpo::studio
