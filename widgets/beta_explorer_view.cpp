#include "widgets/beta_explorer_view.h"

#include <qcustomplot.h>
#include <QHBoxLayout>
#include <QLabel>
#include <QVBoxLayout>

#include <cmath>

#include "widgets/beta_slider.h"

namespace dpo::widgets {

BetaExplorerView::BetaExplorerView(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  auto* row = new QHBoxLayout;
  row->addWidget(new QLabel(tr("β"), this));
  slider_ = new BetaSlider(this);
  slider_->setObjectName("betaExplorerSlider");
  slider_->setToolTip(
      tr("Slide β: the bars show each pair's gradient weight at that β (nothing is trained)"));
  row->addWidget(slider_, 1);
  layout->addLayout(row);
  summary_ = new QLabel(this);
  summary_->setObjectName("betaExplorerSummary");
  summary_->setWordWrap(true);
  layout->addWidget(summary_);
  plot_ = new QCustomPlot(this);
  plot_->setObjectName("betaExplorerPlot");
  plot_->xAxis->setLabel(tr("gradient weight per pair (σ(r_l − r_w) for DPO)"));
  plot_->yAxis->setLabel(tr("pairs"));
  bars_ = new QCPBars(plot_->xAxis, plot_->yAxis);
  bars_->setPen(QPen(QColor(0x1f, 0x5f, 0x99)));
  bars_->setBrush(QColor(0x42, 0x85, 0xc4));
  plot_->setMinimumHeight(200);
  layout->addWidget(plot_, 1);
  source_ = new QLabel(this);
  source_->setWordWrap(true);
  source_->setStyleSheet("color: #7a8594;");
  layout->addWidget(source_);
  connect(slider_, &BetaSlider::betaChanged, this, &BetaExplorerView::setBeta);
  setMessage(tr("The β explorer needs an evaluation: start a run with eval pairs, or open one."));
}

void BetaExplorerView::setCells(const std::vector<dpo::BetaExplorerCell>& cells, double run_beta,
                                const QString& source) {
  if (cells.empty()) return setMessage(tr("No pairs to explore."));
  cells_ = cells;
  run_beta_ = run_beta;
  source_->setText(source);
  slider_->setEnabled(true);
  plot_->setVisible(true);
  const auto& first = cells_.front();
  const double width =
      (first.upper - first.lower) / static_cast<double>(std::max<size_t>(1, first.histogram.size()));
  bars_->setWidth(width * 0.9);
  plot_->xAxis->setRange(first.lower, first.upper);
  size_t top = 1;
  for (const auto& c : cells_)
    for (size_t n : c.histogram) top = std::max(top, n);
  plot_->yAxis->setRange(0, static_cast<double>(top) * 1.1);
  slider_->setBeta(run_beta);
  setBeta(run_beta);
}

void BetaExplorerView::setMessage(const QString& message) {
  cells_.clear();
  summary_->setText(message);
  source_->clear();
  slider_->setEnabled(false);
  bars_->data()->clear();
  plot_->setVisible(false);
}

void BetaExplorerView::setBeta(double beta) {
  if (cells_.empty()) return;
  // The nearest β on a log scale.
  size_t best = 0;
  for (size_t i = 1; i < cells_.size(); ++i)
    if (std::abs(std::log(cells_[i].beta / beta)) < std::abs(std::log(cells_[best].beta / beta))) best = i;
  show(best);
}

void BetaExplorerView::show(size_t index) {
  shown_ = index;
  const auto& c = cells_[index];
  QVector<double> x, y;
  const double width = (c.upper - c.lower) / static_cast<double>(std::max<size_t>(1, c.histogram.size()));
  for (size_t i = 0; i < c.histogram.size(); ++i) {
    x << c.lower + (static_cast<double>(i) + 0.5) * width;
    y << static_cast<double>(c.histogram[i]);
  }
  bars_->setData(x, y, true);
  plot_->replot(QCustomPlot::rpQueuedReplot);
  QString text = tr("β %1: %2% of the pairs saturated (pulling with under 10% of their weight at the start), "
                    "mean weight %3, accuracy %4%")
                     .arg(c.beta, 0, 'g', 3)
                     .arg(100 * c.saturated, 0, 'f', 1)
                     .arg(c.mean_weight, 0, 'f', 3)
                     .arg(100 * c.accuracy, 0, 'f', 1);
  if (std::abs(std::log(c.beta / run_beta_)) < 1e-9) text += tr(" — the run's β");
  summary_->setText(text);
}

const dpo::BetaExplorerCell* BetaExplorerView::shownCell() const {
  return cells_.empty() ? nullptr : &cells_[shown_];
}

QString BetaExplorerView::summaryText() const { return summary_->text(); }

}  // namespace dpo::widgets
