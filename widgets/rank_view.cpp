#include "widgets/rank_view.h"

#include <qcustomplot.h>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

namespace dpo::widgets {

namespace {
QString percent(double x) { return QString("%1%").arg(100 * x, 0, 'f', 1); }

// A short name for a model folder: RUN/checkpoints/step-N/model → "RUN step N", RUN/final → "RUN final".
QString short_name(const QString& path) {
  const QFileInfo info(path);
  if (info.fileName() == "model" && info.dir().dirName().startsWith("step-")) {
    QDir run = info.dir();
    const QString step = run.dirName().mid(5).remove(QRegularExpression("^0+"));
    run.cdUp();
    run.cdUp();
    return QString("%1 step %2").arg(run.dirName(), step);
  }
  if (info.fileName() == "final") return QString("%1 final").arg(info.dir().dirName());
  return info.fileName();
}
}  // namespace

RankView::RankView(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  auto* form = new QHBoxLayout;
  form->addWidget(new QLabel(tr("Models"), this));
  models_ = new QLineEdit(this);
  models_->setObjectName("rankModels");
  models_->setPlaceholderText(tr("model folders, separated by ;"));
  form->addWidget(models_, 1);
  auto* add = new QPushButton(tr("Add…"), this);
  form->addWidget(add);
  rank_ = new QPushButton(tr("Rank"), this);
  rank_->setObjectName("rankStart");
  rank_->setToolTip(tr("Score every model on the window's data (the same pairs) against the reference"));
  form->addWidget(rank_);
  rank_run_ = new QPushButton(tr("Rank the run's checkpoints"), this);
  rank_run_->setToolTip(tr("The checkpoints and final model of the run open in the window"));
  form->addWidget(rank_run_);
  layout->addLayout(form);
  status_ = new QLabel(
      tr("Rank models on preference pairs: accuracy with 95% intervals, and which gaps are real."), this);
  status_->setWordWrap(true);
  layout->addWidget(status_);

  auto* split = new QSplitter(Qt::Vertical, this);
  plot_ = new QCustomPlot(split);
  plot_->setObjectName("rankPlot");
  plot_->setMinimumHeight(160);
  plot_->xAxis->setLabel(tr("preference accuracy (95% bootstrap interval)"));
  table_ = new QTableWidget(split);
  table_->setObjectName("rankTable");
  table_->setColumnCount(4);
  table_->setHorizontalHeaderLabels({tr("rank"), tr("model"), tr("accuracy [95% CI]"), tr("margin")});
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  table_->horizontalHeader()->setSectionResizeMode(1, QHeaderView::Stretch);
  table_->verticalHeader()->setVisible(false);  // the rank column numbers the rows
  table_->setWordWrap(false);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setToolTip(tr("Click a model to open its mis-ranked pairs in the pair inspector"));
  matrix_ = new QTableWidget(split);
  matrix_->setObjectName("rankMatrix");
  matrix_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  matrix_->setWordWrap(false);
  matrix_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  matrix_->setToolTip(
      tr("Row minus column accuracy [95% CI], p from a paired bootstrap; green: the row is "
         "better and p < 0.05, red: worse and p < 0.05"));
  layout->addWidget(split, 1);

  connect(add, &QPushButton::clicked, this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Add a model folder"));
    if (dir.isEmpty()) return;
    setModelFolders(modelFolders() << dir);
  });
  connect(rank_, &QPushButton::clicked, this, &RankView::rankRequested);
  connect(rank_run_, &QPushButton::clicked, this, &RankView::rankRunRequested);
  connect(table_, &QTableWidget::cellClicked, this, [this](int row, int) {
    if (row < 0 || row >= static_cast<int>(data_.models.size())) return;
    const auto& m = data_.models[static_cast<size_t>(row)];
    if (!m.pairs_file.isEmpty()) Q_EMIT pairsRequested(m.pairs_file, m.model);
  });
}

QStringList RankView::modelFolders() const {
  QStringList out;
  for (const auto& part : models_->text().split(';', Qt::SkipEmptyParts))
    if (!part.trimmed().isEmpty()) out << part.trimmed();
  return out;
}

void RankView::setModelFolders(const QStringList& folders) { models_->setText(folders.join("; ")); }

void RankView::setRunning(bool running) {
  rank_->setEnabled(!running);
  rank_run_->setEnabled(!running);
}

void RankView::setStatus(const QString& text) { status_->setText(text); }

void RankView::setData(const RankViewData& data) {
  data_ = data;
  if (!data.error.isEmpty()) setStatus(data.error);
  const int n = static_cast<int>(data.models.size());

  const bool h2h = data.head_to_head;
  const auto value_text = [h2h](double v) { return h2h ? QString("%1").arg(v, 0, 'f', 2) : percent(v); };
  table_->setHorizontalHeaderLabels({tr("rank"), tr("model"),
                                     h2h ? tr("strength [95% CI]") : tr("accuracy [95% CI]"),
                                     h2h ? tr("wins") : tr("margin")});
  plot_->xAxis->setLabel(
      h2h ? tr("Bradley–Terry strength, judged by %1 (95% bootstrap interval)").arg(data.judge)
          : tr("preference accuracy (95% bootstrap interval)"));
  table_->setRowCount(n);
  for (int i = 0; i < n; ++i) {
    const auto& m = data.models[static_cast<size_t>(i)];
    const QString cells[] = {
        QString::number(m.rank), m.model,
        QString("%1 [%2, %3]").arg(value_text(m.accuracy), value_text(m.lower), value_text(m.upper)),
        h2h ? percent(m.margin) : QString("%1").arg(m.margin, 0, 'f', 4)};
    for (int c = 0; c < 4; ++c) table_->setItem(i, c, new QTableWidgetItem(cells[c]));
    table_->item(i, 1)->setToolTip(m.model);
  }

  // Best at the top: y = n − 1 − i.
  plot_->clearPlottables();
  auto* points = new QCPGraph(plot_->yAxis, plot_->xAxis);  // key on the vertical axis
  points->setLineStyle(QCPGraph::lsNone);
  points->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, QColor(0x1f, 0x5f, 0x99), 7));
  auto* bars = new QCPErrorBars(plot_->yAxis, plot_->xAxis);
  bars->setDataPlottable(points);
  bars->setErrorType(QCPErrorBars::etValueError);  // along x, the graph's value axis
  QVector<double> key, value;
  auto ticker = QSharedPointer<QCPAxisTickerText>(new QCPAxisTickerText);
  double lo = 1e9, hi = -1e9;
  for (int i = 0; i < n; ++i) {
    const auto& m = data.models[static_cast<size_t>(i)];
    const double y = n - 1 - i;
    key << y;
    value << m.accuracy;
    ticker->addTick(y, QString("%1. %2").arg(m.rank).arg(short_name(m.model)));
    lo = std::min(lo, m.lower), hi = std::max(hi, m.upper);
  }
  // Drawn horizontally: the graph's keys run up the y axis, the interval along x.
  QVector<double> err_minus, err_plus;
  for (int i = 0; i < n; ++i) {
    const auto& m = data.models[static_cast<size_t>(i)];
    err_minus << m.accuracy - m.lower;
    err_plus << m.upper - m.accuracy;
  }
  points->setData(key, value);
  bars->setData(err_minus, err_plus);
  plot_->yAxis->setTicker(ticker);
  plot_->yAxis->setRange(-0.7, std::max(0.7, n - 0.3));
  if (n == 0) lo = 0, hi = 1;
  if (h2h)
    plot_->xAxis->setRange(lo - 0.2, hi + 0.2);
  else
    plot_->xAxis->setRange(std::max(0.0, lo - 0.05), std::min(1.0, hi + 0.05));
  plot_->replot(QCustomPlot::rpQueuedReplot);

  matrix_->setVisible(!h2h);  // a head-to-head ranking's gaps are its intervals; there is no paired matrix
  matrix_->clear();
  matrix_->setRowCount(n);
  matrix_->setColumnCount(n);
  QStringList names;
  for (const auto& m : data.models) names << QString("%1. %2").arg(m.rank).arg(short_name(m.model));
  matrix_->setHorizontalHeaderLabels(names);
  matrix_->setVerticalHeaderLabels(names);
  for (int r = 0; r < n && r < static_cast<int>(data.pairwise.size()); ++r)
    for (int c = 0; c < n && c < static_cast<int>(data.pairwise[static_cast<size_t>(r)].size()); ++c) {
      const auto& d = data.pairwise[static_cast<size_t>(r)][static_cast<size_t>(c)];
      auto* item = new QTableWidgetItem(d ? QString("%1%2 (p %3)")
                                                .arg(d->difference >= 0 ? "+" : "")
                                                .arg(percent(d->difference))
                                                .arg(d->p_value, 0, 'f', 3)
                                          : QString("—"));
      item->setTextAlignment(Qt::AlignCenter);
      if (d && d->p_value < 0.05) {
        item->setBackground(d->difference > 0 ? QColor(0xc8, 0xe6, 0xc9) : QColor(0xff, 0xcd, 0xd2));
        item->setForeground(Qt::black);
      }
      if (d)
        item->setToolTip(
            tr("%1 minus %2: %3 [%4, %5], p %6")
                .arg(names[r], names[c], percent(d->difference), percent(d->lower), percent(d->upper))
                .arg(d->p_value, 0, 'f', 4));
      matrix_->setItem(r, c, item);
    }
}

}  // namespace dpo::widgets
