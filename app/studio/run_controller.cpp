#include "app/studio/run_controller.h"

#include <QFileInfo>

#include <QThread>

#include <algorithm>
#include <cmath>

#include "app/studio/run_catalog.h"

namespace dpo::studio {

RunController::RunController(QObject* parent) : QObject(parent) {
  qRegisterMetaType<StepMetrics>();
  qRegisterMetaType<PreferenceEval>();
  qRegisterMetaType<PairTokenScores>();
  qRegisterMetaType<TrainerEvent>();
  qRegisterMetaType<RunState>();
}

RunController::~RunController() { shutdown(); }

void RunController::shutdown() {
  if (worker_) worker_->requestStop();
  join();
}

void RunController::releaseLingering() {
  if (!lingering_) return;
  join();
  Q_EMIT playgroundChanged();
}

bool RunController::startPlayground(const QString& dir) {
  if (state_ != RunState::Idle || isTraining()) return false;
  if (lingering_ && playground_dir_ == QFileInfo(dir).absoluteFilePath()) return true;
  releaseLingering();
  StudioRunConfig config;
  config.playground_dir = dir;
  config.threads = config_.threads;
  makeWorker(config, "playground");
  lingering_ = true;
  playground_dir_ = QFileInfo(dir).absoluteFilePath();
  thread_->start();
  Q_EMIT playgroundChanged();
  return true;
}

void RunController::makeWorker(const StudioRunConfig& config, const char* thread_name) {
  thread_ = new QThread(this);
  thread_->setObjectName(thread_name);
  worker_ = new TrainingWorker(config);
  worker_->moveToThread(thread_);
  connect(thread_, &QThread::started, worker_, &TrainingWorker::run);
  // What any worker answers, training or only holding a run's models for the Playground.
  connect(worker_, &TrainingWorker::pairTokensReady, this, &RunController::pairTokensReady);
  connect(worker_, &TrainingWorker::generationToken, this, &RunController::generationToken);
  connect(worker_, &TrainingWorker::generationFinished, this, &RunController::generationFinished);
  connect(worker_, &TrainingWorker::playgroundFailed, this, &RunController::playgroundFailed);
}

double RunController::currentBeta() const {
  const double beta = records_.empty() ? 0.0 : records_.back().beta;
  return beta > 0 ? beta : config_.run.trainer.loss.beta;
}

void RunController::clearRecords() {
  records_.clear();
  evals_.clear();
  events_.clear();
  steps_done_ = 0;
  run_failed_ = false;
  Q_EMIT recordsCleared();
}

void RunController::replay(const RunRecords& run) {
  for (const auto& m : run.metrics) onStep(m);
  for (const auto& e : run.evals) onEval(e);
  for (const auto& e : run.events) onEvent(e);
}

bool RunController::start(const StudioRunConfig& config) {
  if (state_ != RunState::Idle || isTraining()) return false;
  releaseLingering();  // the last run's (or a viewed run's) models make room for the new run
  run_dir_.clear();
  config_ = config;
  stepping_ = false;
  run_failed_ = false;
  makeWorker(config_, "training");
  connect(worker_, &TrainingWorker::preparing, this, &RunController::preparing);
  connect(worker_, &TrainingWorker::prepared, this,
          [this](const QString& data, qint64 pairs, qint64 parameters, const QString& model) {
            // A pause requested during preparation is already queued in the worker.
            if (state_ == RunState::Preparing) setState(RunState::Running);
            Q_EMIT prepared(data, pairs, parameters, model);
          });
  connect(worker_, &TrainingWorker::stepFinished, this, &RunController::onStep);
  connect(worker_, &TrainingWorker::evalFinished, this, &RunController::onEval);
  connect(worker_, &TrainingWorker::eventLogged, this, &RunController::onEvent);
  connect(worker_, &TrainingWorker::paused, this, &RunController::onPaused);
  connect(worker_, &TrainingWorker::failed, this, [this](const QString& message) {
    run_failed_ = true;
    Q_EMIT failed(message);
  });
  connect(worker_, &TrainingWorker::finished, this, &RunController::onFinished);
  connect(worker_, &TrainingWorker::runDirectoryReady, this, &RunController::runDirectoryReady);
  connect(worker_, &TrainingWorker::runDirectoryReady, this,
          [this](const QString& dir, qint64) { run_dir_ = QFileInfo(dir).absoluteFilePath(); });
  connect(worker_, &TrainingWorker::checkpointSaved, this, &RunController::checkpointSaved);
  connect(worker_, &TrainingWorker::lessonMeasured, this, &RunController::lessonMeasured);
  setState(RunState::Preparing);
  thread_->start();
  return true;
}

void RunController::togglePause() {
  if (!worker_) return;
  if (state_ == RunState::Running) {
    worker_->requestPause();
    setState(RunState::Pausing);
  } else if (state_ == RunState::Paused) {
    worker_->requestResume();
    setState(RunState::Running);
  }
}

void RunController::stop() {
  if (!worker_ || state_ == RunState::Stopping || state_ == RunState::Idle) return;
  worker_->requestStop();
  setState(RunState::Stopping);
}

void RunController::stepOnce() {
  if (!worker_ || state_ != RunState::Paused || stepping_) return;
  stepping_ = true;
  worker_->requestStep();
  setState(RunState::Paused);
}

void RunController::evaluateNow() {
  if (worker_ && state_ != RunState::Stopping) worker_->requestEvaluation();
}

void RunController::applyChanges(double beta, double learning_rate) {
  if (!worker_ || state_ != RunState::Paused) return;
  // Spin boxes round to their decimals, so compare at that precision.
  const auto differs = [](double a, double b) { return std::abs(a - b) > 1e-9 * std::max(1.0, std::abs(b)); };
  if (differs(beta, config_.run.trainer.loss.beta)) {
    config_.run.trainer.loss.beta = beta;
    worker_->requestBeta(beta);
  }
  if (differs(learning_rate, config_.run.trainer.learning_rate)) {
    config_.run.trainer.learning_rate = learning_rate;
    worker_->requestLearningRate(learning_rate);
  }
}

bool RunController::saveCheckpoint() {
  if (!worker_ || !(state_ == RunState::Running || state_ == RunState::Pausing || state_ == RunState::Paused))
    return false;
  worker_->requestCheckpoint();
  return true;
}

void RunController::requestPairTokens(qint64 line) {
  if (worker_) worker_->requestPairTokens(line);
}

void RunController::requestGeneration(const QString& prompt, int max_new_tokens, double temperature,
                                      quint64 seed) {
  if (worker_) worker_->requestGeneration(prompt, max_new_tokens, temperature, seed);
}

void RunController::setState(RunState state) {
  state_ = state;
  Q_EMIT stateChanged(state);
}

void RunController::onStep(const StepMetrics& metrics) {
  records_.push_back(metrics);
  steps_done_ = metrics.step;
  Q_EMIT stepRecorded(metrics);
}

void RunController::onEval(const PreferenceEval& eval) {
  evals_.push_back(eval);
  Q_EMIT evalRecorded(eval);
}

void RunController::onEvent(const TrainerEvent& event) {
  events_.push_back(event);
  Q_EMIT eventRecorded(event);
}

void RunController::onPaused(qint64 steps_done) {
  stepping_ = false;
  // Running too: the worker pauses by itself with pause_after.
  if (state_ == RunState::Pausing || state_ == RunState::Running || state_ == RunState::Paused)
    setState(RunState::Paused);
  Q_EMIT paused(steps_done);
}

void RunController::onFinished(qint64 steps_done, bool stopped) {
  // A run that ended well keeps its worker (and models) for the Playground; a failed one is gone.
  if (run_failed_) {
    join();
  } else {
    lingering_ = true;
    playground_dir_ = run_dir_;
  }
  stepping_ = false;
  steps_done_ = std::max(steps_done_, steps_done);
  setState(RunState::Idle);
  Q_EMIT runFinished(steps_done_, stopped, run_failed_);
  Q_EMIT playgroundChanged();
}

void RunController::join() {
  lingering_ = false;
  playground_dir_.clear();
  if (!thread_) return;
  worker_->release();
  // run() has returned or returns within one step (stop requested); the loop then exits.
  thread_->quit();
  thread_->wait();
  delete worker_;
  worker_ = nullptr;
  delete thread_;
  thread_ = nullptr;
}

}  // namespace dpo::studio
