#include "app/studio/training_worker.h"

#include <exception>

#include "app/session/run_setup.h"
#include "core/runtime/error.h"
#include "core/runtime/runtime.h"
#include "core/train/losses.h"
#include "core/train/metrics.h"

namespace dpo::studio {

namespace {
QString qstr(std::string_view s) { return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size())); }

MetricRecord toRecord(const StepMetrics& m, double beta) {
  MetricRecord r;
  r.step = m.step;
  r.epoch = m.epoch;
  r.loss = m.loss;
  r.rewards_chosen = m.rewards_chosen;
  r.rewards_rejected = m.rewards_rejected;
  r.rewards_margins = m.rewards_margins;
  r.rewards_accuracies = m.rewards_accuracies;
  r.logps_chosen = m.logps_chosen;
  r.logps_rejected = m.logps_rejected;
  r.length_chosen = m.length_chosen;
  r.length_rejected = m.length_rejected;
  r.learning_rate = m.learning_rate;
  r.grad_norm = m.grad_norm;
  r.tokens = m.tokens;
  r.elapsed_seconds = m.elapsed_seconds;
  r.beta = beta;
  return r;
}
}  // namespace

StudioRunConfig defaultRunConfig() {
  const auto t = app::RunOptions::default_trainer_config();
  StudioRunConfig c;
  c.loss_name = qstr(loss_info(t.loss.type).name);
  c.beta = t.loss.beta;
  c.learning_rate = t.learning_rate;
  c.steps = t.max_steps;
  c.batch_size = t.batch_size;
  return c;
}

QList<LossChoice> availableLosses() {
  QList<LossChoice> out;
  for (const auto& info : loss_table()) out.push_back({qstr(info.name), qstr(info.label), qstr(info.formula)});
  return out;
}

TrainingWorker::TrainingWorker(StudioRunConfig config, QObject* parent)
    : QObject(parent), config_(std::move(config)) {
  qRegisterMetaType<MetricRecord>();
}

TrainingWorker::~TrainingWorker() = default;

void TrainingWorker::requestPause() {
  std::lock_guard lock(mutex_);
  pause_requested_ = true;
}

void TrainingWorker::requestResume() {
  {
    std::lock_guard lock(mutex_);
    pause_requested_ = false;
  }
  wake_.notify_all();
}

void TrainingWorker::requestStop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
}

// Returns false when a stop arrived while paused.
bool TrainingWorker::waitWhilePaused(qint64 steps_done) {
  std::unique_lock lock(mutex_);
  if (!pause_requested_) return !stop_;
  Q_EMIT paused(steps_done);
  wake_.wait(lock, [this] { return !pause_requested_ || stop_; });
  if (stop_) return false;
  Q_EMIT resumed();
  return true;
}

void TrainingWorker::run() {
  qint64 steps_done = 0;
  try {
    if (config_.threads > 0) configure_threads(config_.threads);
    app::RunOptions options;
    options.data_path = config_.data_path.toStdString();
    const auto loss = parse_loss_type(config_.loss_name.toStdString());
    if (!loss) throw ConfigError("unknown loss '" + config_.loss_name.toStdString() + "'");
    options.trainer.loss.type = *loss;
    options.trainer.loss.beta = config_.beta;
    options.trainer.learning_rate = config_.learning_rate;
    options.trainer.max_steps = config_.steps;
    options.trainer.batch_size = config_.batch_size;

    auto setup = app::prepare_run(options);
    Q_EMIT prepared(QString::fromStdString(setup.data_label), static_cast<qint64>(setup.train_pairs),
                    setup.parameter_count);
    auto& trainer = *setup.trainer;
    while (!trainer.finished() && !stop_) {
      if (!waitWhilePaused(trainer.steps_done())) break;
      const StepMetrics m = trainer.step();
      steps_done = trainer.steps_done();
      Q_EMIT stepFinished(toRecord(m, config_.beta));
    }
    steps_done = trainer.steps_done();
  } catch (const std::exception& e) {
    // dpo::Error carries a one-line user-facing message; anything else (c10::Error, bad_alloc)
    // is still better shown than crashing the studio.
    const bool ours = dynamic_cast<const Error*>(&e) != nullptr;
    QString message = QString::fromStdString(e.what());
    if (!ours) message = tr("internal error: %1").arg(message.section('\n', 0, 0));
    Q_EMIT failed(message);
  }
  Q_EMIT finished(steps_done, stop_.load());
}

}  // namespace dpo::studio
