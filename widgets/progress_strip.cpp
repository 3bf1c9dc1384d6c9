#include "widgets/progress_strip.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>

namespace dpo::widgets {

ProgressStrip::ProgressStrip(QWidget* parent) : QWidget(parent) {
  auto* layout = new QHBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  label_ = new QLabel(this);
  label_->setObjectName("preparationStage");
  bar_ = new QProgressBar(this);
  bar_->setObjectName("preparationBar");
  bar_->setMaximumWidth(220);
  bar_->setTextVisible(true);
  cancel_ = new QPushButton(tr("Cancel"), this);
  cancel_->setObjectName("preparationCancel");
  cancel_->setToolTip(tr("Stop preparing this run; nothing is written but the run folder's settings"));
  layout->addWidget(label_);
  layout->addWidget(bar_);
  layout->addWidget(cancel_);
  connect(cancel_, &QPushButton::clicked, this, [this] {
    cancel_->setEnabled(false);
    label_->setText(tr("Cancelling: %1").arg(stage_));
    Q_EMIT cancelRequested();
  });
  hide();
}

void ProgressStrip::setProgress(const QString& stage, qint64 done, qint64 total) {
  if (stage != stage_) cancel_->setEnabled(true);
  stage_ = stage;
  if (cancel_->isEnabled()) label_->setText(stage);
  if (total > 0) {
    // QProgressBar counts in int; pairs can exceed it, so show per mille.
    bar_->setRange(0, 1000);
    bar_->setValue(static_cast<int>(1000 * done / total));
    bar_->setFormat(QStringLiteral("%1 / %2").arg(done).arg(total));
  } else {
    bar_->setRange(0, 0);  // busy
    bar_->setFormat(QString());
  }
  show();
}

void ProgressStrip::finish() {
  stage_.clear();
  cancel_->setEnabled(true);
  hide();
}

}  // namespace dpo::widgets
