#include "widgets/sweep_view.h"

#include <qcustomplot.h>
#include <QComboBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>

namespace dpo::widgets {

namespace {

bool higher_is_better(const QString& measure) {
  for (const auto& m : kSweepMeasures)
    if (measure == m.name) return m.higher_is_better;
  return true;
}

QString format_value(const QString& measure, double v) {
  if (measure == "held-out accuracy") return QString("%1%").arg(100 * v, 0, 'f', 1);
  if (measure == "sampled length") return QString::number(v, 'f', 1);
  return QString::number(v, 'g', 3);
}

}  // namespace

SweepView::SweepView(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  auto* form = new QHBoxLayout;
  form->addWidget(new QLabel(tr("β values"), this));
  betas_ = new QLineEdit("0.01,0.03,0.1,0.3,1", this);
  betas_->setObjectName("sweepBetas");
  betas_->setToolTip(tr("Comma-separated β values; every loss runs at each"));
  form->addWidget(betas_, 2);
  form->addWidget(new QLabel(tr("losses"), this));
  losses_ = new QLineEdit("sigmoid", this);
  losses_->setObjectName("sweepLosses");
  losses_->setToolTip(tr("Comma-separated losses (sigmoid, ipo, simpo, …)"));
  form->addWidget(losses_, 1);
  form->addWidget(new QLabel(tr("steps"), this));
  steps_ = new QSpinBox(this);
  steps_->setRange(1, 100000);
  steps_->setValue(60);
  steps_->setFocusPolicy(Qt::StrongFocus);  // the wheel scrolls the page unless the box has focus
  form->addWidget(steps_);
  start_ = new QPushButton(tr("Run sweep"), this);
  start_->setObjectName("sweepStart");
  start_->setToolTip(
      tr("Short runs from the same start and data order, with the window's model, data and "
         "settings; runs one after another"));
  form->addWidget(start_);
  stop_ = new QPushButton(tr("Stop"), this);
  stop_->setEnabled(false);
  form->addWidget(stop_);
  open_ = new QPushButton(tr("Open sweep…"), this);
  form->addWidget(open_);
  layout->addLayout(form);
  status_ = new QLabel(this);
  status_->setObjectName("sweepStatus");
  status_->setWordWrap(true);
  layout->addWidget(status_);

  auto* measure_row = new QHBoxLayout;
  measure_row->addWidget(new QLabel(tr("Colour by"), this));
  measure_ = new QComboBox(this);
  measure_->setObjectName("sweepMeasure");
  for (const auto& m : kSweepMeasures) measure_->addItem(tr(m.name), QString(m.name));
  measure_row->addWidget(measure_);
  measure_row->addStretch(1);
  layout->addLayout(measure_row);
  reason_ = new QLabel(this);
  reason_->setObjectName("sweepRecommendation");
  reason_->setWordWrap(true);
  reason_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(reason_);

  auto* split = new QSplitter(Qt::Vertical, this);
  heatmap_ = new QTableWidget(split);
  heatmap_->setObjectName("sweepHeatmap");
  heatmap_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  heatmap_->setSelectionMode(QAbstractItemView::SingleSelection);
  heatmap_->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
  heatmap_->setToolTip(tr("Click a run to open it"));
  auto* scroll = new QScrollArea(split);
  scroll->setWidgetResizable(true);
  grid_host_ = new QWidget(scroll);
  grid_ = new QGridLayout(grid_host_);
  scroll->setWidget(grid_host_);
  split->setStretchFactor(0, 1);
  split->setStretchFactor(1, 2);
  layout->addWidget(split, 1);

  connect(start_, &QPushButton::clicked, this, &SweepView::startRequested);
  connect(stop_, &QPushButton::clicked, this, &SweepView::stopRequested);
  connect(open_, &QPushButton::clicked, this, &SweepView::openRequested);
  connect(measure_, &QComboBox::currentIndexChanged, this, [this] { fillHeatmap(); });
  connect(heatmap_, &QTableWidget::cellClicked, this, [this](int row, int column) {
    const auto* item = heatmap_->item(row, column);
    if (item && !item->data(Qt::UserRole).toString().isEmpty())
      Q_EMIT runRequested(item->data(Qt::UserRole).toString());
  });
  setStatus(tr("Run a sweep with the window's settings, or open one made by dpo sweep."));
}

void SweepView::setData(const SweepViewData& data) {
  data_ = data;
  if (!data.error.isEmpty()) {
    setStatus(data.error);
  } else if (!data.dir.isEmpty()) {
    setStatus(tr("%1 runs in %2").arg(data.cells.size()).arg(data.dir));
  }
  reason_->setText(data.reason.isEmpty() ? QString() : tr("Recommended: %1").arg(data.reason));
  fillHeatmap();
  fillSmallPlots();
}

void SweepView::setMeasure(const QString& measure) {
  const int i = measure_->findData(measure);
  if (i >= 0) measure_->setCurrentIndex(i);
}

void SweepView::setRunning(bool running) {
  start_->setEnabled(!running);
  open_->setEnabled(!running);
  stop_->setEnabled(running);
}

void SweepView::setStatus(const QString& text) { status_->setText(text); }

QString SweepView::betasText() const { return betas_->text().simplified().remove(' '); }
QString SweepView::lossesText() const { return losses_->text().simplified().remove(' '); }
int SweepView::steps() const { return steps_->value(); }

void SweepView::fillHeatmap() {
  QStringList losses;
  std::vector<double> betas;
  for (const auto& c : data_.cells) {
    if (!losses.contains(c.loss)) losses << c.loss;
    if (std::find(betas.begin(), betas.end(), c.beta) == betas.end()) betas.push_back(c.beta);
  }
  std::sort(betas.begin(), betas.end());
  heatmap_->clear();
  heatmap_->setRowCount(static_cast<int>(losses.size()));
  heatmap_->setColumnCount(static_cast<int>(betas.size()));
  heatmap_->setVerticalHeaderLabels(losses);
  QStringList beta_labels;
  for (double b : betas) beta_labels << QString("β %1").arg(b, 0, 'g', 3);
  heatmap_->setHorizontalHeaderLabels(beta_labels);
  const QString measure = measure_->currentData().toString();
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& c : data_.cells)
    if (auto it = c.outcomes.find(measure); it != c.outcomes.end())
      lo = std::min(lo, it->second), hi = std::max(hi, it->second);
  const bool up = higher_is_better(measure);
  for (const auto& c : data_.cells) {
    const int row = static_cast<int>(losses.indexOf(c.loss));
    const int column = static_cast<int>(std::find(betas.begin(), betas.end(), c.beta) - betas.begin());
    auto* item = new QTableWidgetItem;
    item->setData(Qt::UserRole, c.run_dir);
    item->setTextAlignment(Qt::AlignCenter);
    const auto it = c.outcomes.find(measure);
    QString text = it == c.outcomes.end() ? tr("not measured") : format_value(measure, it->second);
    if (it != c.outcomes.end()) {
      // Green for the better end of this measure, white for the worse.
      const double t = hi > lo ? (it->second - lo) / (hi - lo) : 0.5;  // all equal: no run stands out
      const double good = up ? t : 1.0 - t;
      item->setBackground(QColor::fromRgbF(1.0 - 0.55 * good, 1.0 - 0.2 * good, 1.0 - 0.55 * good));
      item->setForeground(Qt::black);
    }
    if (c.name == data_.recommended) {
      text = "★ " + text;
      QFont bold = item->font();
      bold.setBold(true);
      item->setFont(bold);
    }
    item->setText(text);
    item->setToolTip(tr("%1 — click to open the run").arg(c.run_dir));
    heatmap_->setItem(row, column, item);
  }
  // As tall as its rows: the small plots below get the rest of the tab.
  int height = heatmap_->horizontalHeader()->height() + 2 * heatmap_->frameWidth() + 4;
  for (int r = 0; r < heatmap_->rowCount(); ++r) height += heatmap_->rowHeight(r);
  heatmap_->setMaximumHeight(std::max(height, 60));
}

void SweepView::fillSmallPlots() {
  for (auto* p : small_plots_) p->deleteLater();
  small_plots_.clear();
  // The grid mirrors the heatmap: a row per loss, a column per β. Every plot shares the x axis; the
  // y axis is shared within a loss (losses live on different scales: IPO's starts at 1/(4β²)).
  QStringList losses;
  std::vector<double> betas;
  std::map<QString, std::pair<double, double>> range;
  double last_step = 1;
  for (const auto& c : data_.cells) {
    if (!losses.contains(c.loss)) losses << c.loss;
    if (std::find(betas.begin(), betas.end(), c.beta) == betas.end()) betas.push_back(c.beta);
    auto& r = range
                  .try_emplace(c.loss, std::numeric_limits<double>::infinity(),
                               -std::numeric_limits<double>::infinity())
                  .first->second;
    for (const auto& p : c.loss_curve) {
      r.first = std::min(r.first, p.y());
      r.second = std::max(r.second, p.y());
      last_step = std::max(last_step, p.x());
    }
  }
  std::sort(betas.begin(), betas.end());
  for (const auto& c : data_.cells) {
    auto [lo, hi] = range[c.loss];
    if (!(hi > lo)) lo -= 0.5, hi += 0.5;
    auto* plot = new QCustomPlot(grid_host_);
    plot->setObjectName(QString("sweepPlot:%1").arg(c.name));
    plot->setMinimumSize(150, 120);
    plot->plotLayout()->insertRow(0);
    plot->plotLayout()->addElement(
        0, 0,
        new QCPTextElement(plot, QString("%1, β %2").arg(c.loss).arg(c.beta, 0, 'g', 3), QFont("sans", 8)));
    auto* graph = plot->addGraph();
    graph->setPen(
        QPen(c.name == data_.recommended ? QColor(0x2e, 0x7d, 0x32) : QColor(0x1f, 0x5f, 0x99), 1.5));
    QVector<double> x, y;
    for (const auto& p : c.loss_curve) x << p.x(), y << p.y();
    graph->setData(x, y, true);
    plot->xAxis->setRange(0, last_step);
    if (lo > 0 && hi / lo > 50) {
      // A loss whose scale moves with β (IPO's starts at 1/(4β²)): one log axis keeps every curve visible.
      plot->yAxis->setScaleType(QCPAxis::stLogarithmic);
      plot->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    }
    plot->yAxis->setRange(lo, hi);
    plot->xAxis->setLabel(tr("step"));
    plot->yAxis->setLabel(tr("loss"));
    QFont small("sans", 7);
    for (auto* axis : {plot->xAxis, plot->yAxis}) axis->setTickLabelFont(small), axis->setLabelFont(small);
    const QString dir = c.run_dir;
    connect(plot, &QCustomPlot::mousePress, this, [this, dir](QMouseEvent*) { Q_EMIT runRequested(dir); });
    plot->setToolTip(tr("%1 — click to open the run").arg(dir));
    const int row = static_cast<int>(losses.indexOf(c.loss));
    const int column = static_cast<int>(std::find(betas.begin(), betas.end(), c.beta) - betas.begin());
    grid_->addWidget(plot, row, column);
    small_plots_ << plot;
  }
}

}  // namespace dpo::widgets
