#include "app/studio/run_panel.h"

#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QStyle>
#include <QVBoxLayout>

#include <utility>

#include "app/studio/run_controller.h"

namespace dpo::studio {

namespace {
QLabel* valueLabel(QWidget* parent) {
  auto* l = new QLabel(parent);
  l->setTextInteractionFlags(Qt::TextSelectableByMouse);
  l->setWordWrap(true);
  l->setText(QObject::tr("—"));
  return l;
}
}  // namespace

QString formatCount(qint64 n) {
  if (n >= 1'000'000) return QString::number(static_cast<double>(n) / 1e6, 'f', 2) + " M";
  if (n >= 10'000) return QString::number(static_cast<double>(n) / 1e3, 'f', 1) + " k";
  return QString::number(n);
}

RunControls::RunControls(QWidget* parent) : QWidget(parent) {
  auto* buttons = new QHBoxLayout(this);
  buttons->setContentsMargins(0, 0, 0, 0);
  start_ = new QPushButton(style()->standardIcon(QStyle::SP_MediaPlay), tr("Start"), this);
  start_->setDefault(true);
  pause_ = new QPushButton(style()->standardIcon(QStyle::SP_MediaPause), tr("Pause"), this);
  stop_ = new QPushButton(style()->standardIcon(QStyle::SP_MediaStop), tr("Stop"), this);
  step_ = new QPushButton(style()->standardIcon(QStyle::SP_MediaSeekForward), tr("Step"), this);
  start_->setObjectName("startButton");
  pause_->setObjectName("pauseButton");
  step_->setObjectName("stepButton");
  stop_->setObjectName("stopButton");
  start_->setToolTip(tr("Start a new run (clears the plots)  [F5]"));
  pause_->setToolTip(tr("Pause after the step in progress, or resume  [F6]"));
  step_->setToolTip(tr("While paused: run exactly one optimiser step  [F10]"));
  stop_->setToolTip(tr("Stop after the step in progress  [Shift+F5]"));
  checkpoint_ =
      new QPushButton(style()->standardIcon(QStyle::SP_DialogSaveButton), tr("Save checkpoint"), this);
  checkpoint_->setObjectName("saveCheckpointButton");
  checkpoint_->setToolTip(
      tr("Write a resumable checkpoint of the run now: after the step in progress, or at "
         "once while paused. Stop and the end of a run write one too  [Ctrl+S]"));
  resume_ = new QPushButton(style()->standardIcon(QStyle::SP_MediaPlay), tr("Resume run"), this);
  resume_->setObjectName("resumeRunButton");
  resume_->setToolTip(tr("Continue this run from its newest checkpoint, with its own settings"));
  new_run_ = new QPushButton(tr("New run"), this);
  new_run_->setObjectName("newRunButton");
  new_run_->setToolTip(tr("Leave this run's read-only view and set up a new run"));
  for (auto* b : {start_, pause_, step_, stop_, checkpoint_, resume_, new_run_}) {
    b->setMinimumHeight(28);
    b->setFocusPolicy(Qt::TabFocus);  // a click must not steal the focus from the field being edited
    buttons->addWidget(b);
  }
}

void RunControls::update(const Situation& now) {
  const RunState state = now.state;
  const bool idle = state == RunState::Idle;
  const bool paused = state == RunState::Paused;
  start_->setEnabled(idle && now.settings_valid && !now.viewing);
  stop_->setEnabled(state == RunState::Preparing || state == RunState::Running ||
                    state == RunState::Pausing || state == RunState::Paused);
  const bool in_process = now.processes <= 1;
  pause_->setEnabled(in_process && (state == RunState::Running || state == RunState::Paused));
  step_->setEnabled(paused && !now.stepping);
  pause_->setText(paused ? tr("Resume") : state == RunState::Pausing ? tr("Pausing…") : tr("Pause"));
  pause_->setIcon(style()->standardIcon(paused ? QStyle::SP_MediaPlay : QStyle::SP_MediaPause));
  checkpoint_->setEnabled(in_process && (state == RunState::Running || state == RunState::Pausing || paused));
  const bool active = !idle && state != RunState::Stopping;
  why_.clear();
  if (!start_->isEnabled())
    why_["start"] = !idle         ? tr("Start: a run is already in progress (Stop it first, Shift+F5)")
                    : now.viewing ? tr("Start: a finished run is shown read-only (New run first)")
                                  : tr("Start: the settings have a problem (see the form)");
  if (!pause_->isEnabled())
    why_["pause"] =
        !in_process && active
            ? tr("Pause: a run of %1 processes cannot pause (Stop ends it at a step)").arg(now.processes)
            : tr("Pause: no run is in progress (F5 starts one)");
  if (!step_->isEnabled())
    why_["step"] = now.stepping ? tr("Step: the previous step is still running")
                   : active     ? tr("Step works while paused: press F6 to pause first")
                                : tr("Step works while a run is paused: F5 starts one, F6 pauses it");
  if (!stop_->isEnabled()) why_["stop"] = tr("Stop: no run is in progress");
  if (!checkpoint_->isEnabled())
    why_["checkpoint"] =
        now.viewing ? tr("Save checkpoint: this run is shown read-only; its checkpoints "
                         "are already on disk (Resume run continues it)")
        : !in_process && active
            ? tr("Save checkpoint: a run of %1 processes saves its model when it ends").arg(now.processes)
            : tr("Save checkpoint: no run is in progress");

  const auto& run = now.viewed;
  const bool can_continue =
      now.viewing && run.resumable && (run.steps_total <= 0 || run.checkpoint_step < run.steps_total);
  resume_->setVisible(now.viewing && run.resumable);
  resume_->setEnabled(idle && can_continue);
  resume_->setToolTip(can_continue ? tr("Continue this run from its checkpoint at step %1 (of %2)")
                                         .arg(run.checkpoint_step)
                                         .arg(run.steps_total)
                                   : tr("This run's newest checkpoint is its last step"));
  new_run_->setVisible(now.viewing);
  new_run_->setEnabled(idle);
}

void RunFacts::setRunFolderText(const QString& text, const QString& tooltip) {
  run_dir_->setText(text);
  run_dir_->setToolTip(tooltip);
}

RunFacts::RunFacts(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->setSpacing(10);
  auto* run_box = new QGroupBox(tr("Run"), this);
  auto* run_form = new QFormLayout(run_box);
  data_ = valueLabel(run_box);
  model_ = valueLabel(run_box);
  compute_ = valueLabel(run_box);
  run_form->addRow(tr("Data"), data_);
  run_form->addRow(tr("Policy"), model_);
  run_form->addRow(tr("Compute"), compute_);
  run_dir_ = valueLabel(run_box);
  run_dir_->setObjectName("runDirLabel");
  run_dir_->setText(tr("Each run is saved in a run folder (View ▸ Runs)."));
  run_form->addRow(tr("Folder"), run_dir_);
  layout->addWidget(run_box);

  auto* latest_box = new QGroupBox(tr("Latest step"), this);
  auto* latest_form = new QFormLayout(latest_box);
  const std::pair<const char*, const char*> rows[] = {
      {"epoch", QT_TR_NOOP("Pass over data")},
      {"loss", QT_TR_NOOP("Loss")},
      {"margin", QT_TR_NOOP("Reward margin")},
      {"chosen", QT_TR_NOOP("Reward chosen")},
      {"rejected", QT_TR_NOOP("Reward rejected")},
      {"accuracy", QT_TR_NOOP("Accuracy")},
      {"beta", QT_TR_NOOP("β")},
      {"grad_norm", QT_TR_NOOP("Grad norm (pre-clip)")},
      {"lr", QT_TR_NOOP("Learning rate")},
      {"tokens", QT_TR_NOOP("Tokens processed")},
  };
  for (const auto& [key, label] : rows) {
    auto* value = valueLabel(latest_box);
    latest_form->addRow(tr(label), value);
    latest_[QString::fromUtf8(key)] = value;
  }
  layout->addWidget(latest_box);
}

void RunFacts::setRun(const QString& data_text, const QString& model_text) {
  data_->setText(data_text);
  model_->setText(model_text);
}

void RunFacts::setPrepared(const QString& data_label, qint64 pairs, qint64 parameters,
                           const QString& model_label) {
  data_->setText(tr("%1 · %2 pairs").arg(data_label).arg(pairs));
  model_->setText(tr("%1 · %2 parameters").arg(model_label, formatCount(parameters)));
}

void RunFacts::setCompute(const QString& summary, const QString& details) {
  compute_->setText(summary);
  compute_->setToolTip(details);
}

void RunFacts::showStep(const StepMetrics& r) {
  latest_["epoch"]->setText(QString::number(r.epoch + 1));
  latest_["loss"]->setText(QString::number(r.loss, 'f', 4));
  latest_["margin"]->setText(QString::number(r.rewards_margins, 'f', 4));
  latest_["chosen"]->setText(QString::number(r.rewards_chosen, 'f', 4));
  latest_["rejected"]->setText(QString::number(r.rewards_rejected, 'f', 4));
  latest_["accuracy"]->setText(QString::number(r.rewards_accuracies, 'f', 3));
  latest_["beta"]->setText(QString::number(r.beta, 'g', 4));
  latest_["grad_norm"]->setText(QString::number(r.grad_norm, 'g', 4));
  latest_["lr"]->setText(QString::number(r.learning_rate, 'g', 4));
  latest_["tokens"]->setText(formatCount(r.tokens));
}

void RunFacts::clearStep() {
  for (auto* value : std::as_const(latest_)) value->setText(tr("—"));
}

}  // namespace dpo::studio
