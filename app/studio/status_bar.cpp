#include "app/studio/status_bar.h"

#include <QLabel>
#include <QStatusBar>
#include <QStringList>

#include <algorithm>
#include <cmath>

#include "app/studio/run_controller.h"
#include "widgets/progress_strip.h"

namespace dpo::studio {

StatusLine::StatusLine(QStatusBar* bar) : QObject(bar) {
  state_ = new QLabel(bar);
  step_ = new QLabel(bar);
  loss_ = new QLabel(bar);
  accuracy_ = new QLabel(bar);
  speed_ = new QLabel(bar);
  speed_->setObjectName("speedLabel");
  QFont bold = state_->font();
  bold.setBold(true);
  state_->setFont(bold);
  bar->addWidget(state_);
  progress_ = new widgets::ProgressStrip(bar);
  progress_->setObjectName("preparationStrip");
  bar->addWidget(progress_);
  for (auto* l : {step_, loss_, accuracy_, speed_}) {
    l->setMinimumWidth(120);
    bar->addPermanentWidget(l);
  }
}

void StatusLine::showState(const Situation& now) {
  switch (now.state) {
    case RunState::Idle:
      state_->setText(!now.viewing.isEmpty() ? tr("Viewing %1 (read-only)").arg(now.viewing)
                      : now.failed           ? tr("Failed")
                      : now.has_records      ? tr("Finished")
                                             : tr("Ready"));
      break;
    case RunState::Preparing:
      state_->setText(tr("Preparing data and model…"));
      break;
    case RunState::Running:
      state_->setText(tr("Training"));
      break;
    case RunState::Pausing:
      state_->setText(tr("Pausing after this step…"));
      break;
    case RunState::Paused:
      state_->setText(now.stepping ? tr("Paused · stepping once…")
                                   : tr("Paused · β and learning rate editable"));
      break;
    case RunState::Stopping:
      state_->setText(tr("Stopping after this step…"));
      break;
  }
}

void StatusLine::setStateText(const QString& text) { state_->setText(text); }

void StatusLine::showStep(const StepMetrics& r, qint64 total_steps, const std::deque<StepMetrics>& records) {
  showStepCount(r.step, total_steps);
  loss_->setText(tr("loss %1").arg(r.loss, 0, 'f', 4));
  accuracy_->setText(tr("accuracy %1").arg(r.rewards_accuracies, 0, 'f', 2));
  // Rate over the last few steps, so a pause does not drag the number down for the whole run.
  constexpr size_t kWindow = 10;
  double rate = 0;
  if (records.size() >= 2) {
    const auto& first = records.size() > kWindow ? records[records.size() - kWindow - 1] : records.front();
    const double dt = r.elapsed_seconds - first.elapsed_seconds;
    const double ds = static_cast<double>(r.step - first.step);
    if (dt > 0) rate = ds / dt;
  } else if (r.elapsed_seconds > 0) {
    rate = static_cast<double>(r.step) / r.elapsed_seconds;
  }
  if (rate <= 0) return;
  const qint64 left = std::max<qint64>(0, total_steps - r.step);
  QString text = left > 0 ? tr("%1 steps/s · %2 left").arg(rate, 0, 'f', 2).arg(formatDuration(left / rate))
                          : tr("%1 steps/s").arg(rate, 0, 'f', 2);
  // A data-parallel run: each process's own throughput (a slow one holds every step back).
  if (r.rank_tokens_per_second.size() > 1) {
    QStringList ranks;
    for (double v : r.rank_tokens_per_second) ranks << QString::number(v, 'f', 0);
    text += tr(" · tokens/s per process %1").arg(ranks.join(QStringLiteral(" / ")));
  }
  speed_->setText(text);
  speed_->setToolTip(tr("Speed over the last %1 steps; the time left assumes it stays so (evaluations "
                        "and checkpoints add to it)")
                         .arg(kWindow));
}

QString formatDuration(double seconds) {
  const auto s = static_cast<qint64>(std::llround(std::max(0.0, seconds)));
  if (s < 60) return QObject::tr("%1 s").arg(s);
  if (s < 3600) return QObject::tr("%1 min %2 s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
  return QObject::tr("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60, 2, 10, QLatin1Char('0'));
}

void StatusLine::showStepCount(qint64 done, qint64 total) {
  step_->setText(tr("step %1 / %2").arg(done).arg(total));
}

void StatusLine::clear() {
  loss_->clear();
  accuracy_->clear();
  speed_->clear();
}

}  // namespace dpo::studio
