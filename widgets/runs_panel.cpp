#include "widgets/runs_panel.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSet>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <cmath>

namespace dpo::widgets {

namespace {
constexpr int kDirRole = Qt::UserRole + 1;
}

RunsPanel::RunsPanel(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->setSpacing(4);

  auto* buttons = new QHBoxLayout;
  buttons->setSpacing(4);
  open_button_ = new QPushButton(tr("Open run…"), this);
  open_button_->setToolTip(tr("Open a run directory (the studio's or one `dpo train` wrote)  [Ctrl+O]"));
  view_button_ = new QPushButton(tr("View"), this);
  view_button_->setToolTip(
      tr("Show the selected run read-only: its plots, pairs and log (or double-click it)"));
  refresh_button_ = new QPushButton(tr("Refresh"), this);
  refresh_button_->setToolTip(tr("Read the runs folder again"));
  buttons->addWidget(open_button_);
  buttons->addWidget(view_button_);
  buttons->addWidget(refresh_button_);
  buttons->addStretch(1);
  layout->addLayout(buttons);

  tree_ = new QTreeWidget(this);
  tree_->setObjectName("runsTree");
  tree_->setRootIsDecorated(false);
  tree_->setUniformRowHeights(true);
  tree_->setAlternatingRowColors(true);
  tree_->setColumnCount(ColumnCount);
  tree_->setHeaderLabels({tr("Run (☑ compare)"), tr("Loss"), tr("β"), tr("lr"), tr("Steps"), tr("Accuracy"),
                          tr("Resumable"), tr("Model"), tr("Data")});
  tree_->headerItem()->setToolTip(Name, tr("Tick runs to overlay them on the Compare plots"));
  tree_->headerItem()->setToolTip(Accuracy, tr("rewards/accuracies of the last step"));
  tree_->headerItem()->setToolTip(Resumable, tr("Has a checkpoint to continue from"));
  tree_->headerItem()->setToolTip(Beta, tr("β of the run; \"0.1→0.3\" when it was changed while paused"));
  tree_->header()->setSectionResizeMode(QHeaderView::ResizeToContents);
  tree_->header()->setStretchLastSection(false);
  tree_->setSortingEnabled(false);
  layout->addWidget(tree_, 1);

  root_ = new QLabel(this);
  root_->setWordWrap(true);
  root_->setStyleSheet("color: #7a8594;");
  root_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(root_);
  status_ = new QLabel(this);
  status_->setWordWrap(true);
  layout->addWidget(status_);

  connect(open_button_, &QPushButton::clicked, this, &RunsPanel::openRequested);
  connect(refresh_button_, &QPushButton::clicked, this, &RunsPanel::refreshRequested);
  connect(view_button_, &QPushButton::clicked, this, [this] {
    if (auto* item = tree_->currentItem()) Q_EMIT runActivated(item->data(Name, kDirRole).toString());
  });
  connect(tree_, &QTreeWidget::itemDoubleClicked, this,
          [this](QTreeWidgetItem* item, int) { Q_EMIT runActivated(item->data(Name, kDirRole).toString()); });
  connect(tree_, &QTreeWidget::itemChanged, this, [this](QTreeWidgetItem*, int column) {
    if (!filling_ && column == Name) Q_EMIT compareChanged(checkedRuns());
  });
}

void RunsPanel::fill(QTreeWidgetItem* item, const dpo::widgets::RunSummary& run) const {
  item->setText(Name, run.name);
  item->setData(Name, kDirRole, run.dir);
  item->setToolTip(Name, run.error.isEmpty() ? run.dir : run.dir + "\n" + run.error);
  item->setText(Loss, run.loss);
  const bool beta_changed = run.latestBeta() != run.beta;
  item->setText(Beta, !run.error.isEmpty() ? QString()
                      : beta_changed
                          ? QStringLiteral("%1→%2").arg(run.beta, 0, 'g', 4).arg(run.last_beta, 0, 'g', 4)
                          : QString::number(run.beta, 'g', 4));
  item->setText(LearningRate, run.error.isEmpty() ? QString::number(run.learning_rate, 'g', 3) : QString());
  item->setText(Steps, QStringLiteral("%1 / %2").arg(run.steps_done).arg(run.steps_total));
  item->setText(Accuracy,
                std::isfinite(run.last_accuracy) ? QString::number(run.last_accuracy, 'f', 2) : tr("—"));
  item->setText(Resumable, run.resumable ? tr("yes (step %1)").arg(run.checkpoint_step) : tr("no"));
  item->setText(Model, run.model);
  item->setText(Data, run.data);
  item->setToolTip(Model, run.settings.value("model"));
  item->setToolTip(Data, run.settings.value("data"));
  for (int c = Beta; c <= Resumable; ++c) item->setTextAlignment(c, Qt::AlignRight | Qt::AlignVCenter);
  QFont font = item->font(Name);
  font.setBold(run.dir == current_);
  for (int c = 0; c < ColumnCount; ++c) item->setFont(c, font);
  if (!run.error.isEmpty()) item->setForeground(Name, QColor(0xB0, 0x30, 0x30));
}

void RunsPanel::setRuns(const QList<dpo::widgets::RunSummary>& runs) {
  const QStringList checked = checkedRuns();
  const QString selected =
      tree_->currentItem() ? tree_->currentItem()->data(Name, kDirRole).toString() : QString();
  filling_ = true;
  runs_ = runs;
  tree_->clear();
  for (const auto& run : runs_) {
    auto* item = new QTreeWidgetItem(tree_);
    item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
    fill(item, run);
    item->setCheckState(Name, checked.contains(run.dir) ? Qt::Checked : Qt::Unchecked);
    if (run.dir == selected) tree_->setCurrentItem(item);
  }
  filling_ = false;
  if (checkedRuns() != checked) Q_EMIT compareChanged(checkedRuns());
}

int RunsPanel::indexOf(const QString& dir) const {
  for (int i = 0; i < runs_.size(); ++i)
    if (runs_[i].dir == dir) return i;
  return -1;
}

QStringList RunsPanel::checkedRuns() const {
  QStringList out;
  for (int i = 0; i < tree_->topLevelItemCount(); ++i) {
    auto* item = tree_->topLevelItem(i);
    if (item->checkState(Name) == Qt::Checked) out.push_back(item->data(Name, kDirRole).toString());
  }
  return out;
}

void RunsPanel::setChecked(const QString& dir, bool on) {
  const int i = indexOf(dir);
  if (i < 0 || i >= tree_->topLevelItemCount()) return;
  tree_->topLevelItem(i)->setCheckState(Name, on ? Qt::Checked : Qt::Unchecked);  // emits compareChanged
}

void RunsPanel::showProgress(const QString& dir, int64_t steps_done, double accuracy, double beta) {
  const int i = indexOf(dir);
  if (i < 0 || i >= tree_->topLevelItemCount()) return;
  runs_[i].steps_done = steps_done;
  runs_[i].last_accuracy = accuracy;
  runs_[i].last_beta = beta;
  filling_ = true;
  fill(tree_->topLevelItem(i), runs_[i]);
  filling_ = false;
}

void RunsPanel::setCurrentRun(const QString& dir) {
  current_ = dir;
  filling_ = true;
  for (int i = 0; i < tree_->topLevelItemCount() && i < runs_.size(); ++i)
    fill(tree_->topLevelItem(i), runs_[i]);
  filling_ = false;
}

void RunsPanel::setRootText(const QString& text) { root_->setText(text); }

void RunsPanel::setStatus(const QString& text) {
  status_->setText(text);
  status_->setVisible(!text.isEmpty());
}

}  // namespace dpo::widgets
