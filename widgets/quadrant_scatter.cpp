#include "widgets/quadrant_scatter.h"

#include <qcustomplot.h>

#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace dpo::widgets {

namespace {
const QColor kCorrect(0x00, 0x9E, 0x73);    // bluish green
const QColor kMisranked(0xD5, 0x5E, 0x00);  // vermillion
const QColor kGuide(0x90, 0x90, 0x90);

QCPItemText* cornerText(QCustomPlot* plot, double x, double y, Qt::Alignment align, const QString& text) {
  auto* t = new QCPItemText(plot);
  t->position->setType(QCPItemPosition::ptAxisRectRatio);
  t->position->setCoords(x, y);
  t->setPositionAlignment(align);
  t->setColor(QColor(0x70, 0x70, 0x70));
  t->setText(text);
  t->setLayer("grid");
  return t;
}

void axisLine(QCustomPlot* plot, QPointF a, QPointF b, Qt::PenStyle style) {
  auto* l = new QCPItemStraightLine(plot);
  l->setPen(QPen(kGuide, 1.0, style));
  l->point1->setCoords(a);
  l->point2->setCoords(b);
  l->setLayer("grid");
}
}  // namespace

QuadrantScatter::QuadrantScatter(QWidget* parent) : QFrame(parent) {
  setFrameShape(QFrame::StyledPanel);
  plot_ = new QCustomPlot(this);
  plot_->setMinimumSize(170, 150);
  plot_->xAxis->setLabel(tr("a = Δ log π(chosen)  [nats]"));
  plot_->yAxis->setLabel(tr("b = Δ log π(rejected)  [nats]"));
  axisLine(plot_, {0, 0}, {1, 0}, Qt::SolidLine);
  axisLine(plot_, {0, 0}, {0, 1}, Qt::SolidLine);
  axisLine(plot_, {0, 0}, {1, 1}, Qt::DashLine);  // a = b: margin 0
  // Axis-rect ratios run top to bottom: y = 0 is the top edge.
  // Two short lines each, so the corners of one edge never meet; on a plot too narrow even for
  // that, the "both" corners give way (the tooltip still explains them).
  auto* both_up = cornerText(plot_, 0.98, 0.02, Qt::AlignRight | Qt::AlignTop, tr("both up"));
  auto* both_down = cornerText(plot_, 0.02, 0.98, Qt::AlignLeft | Qt::AlignBottom, tr("both down"));
  auto* good = cornerText(plot_, 0.98, 0.98, Qt::AlignRight | Qt::AlignBottom, tr("chosen ↑\nrejected ↓"));
  auto* bad = cornerText(plot_, 0.02, 0.02, Qt::AlignLeft | Qt::AlignTop, tr("chosen ↓\nrejected ↑"));
  connect(plot_, &QCustomPlot::afterLayout, this, [this, both_up, both_down, good, bad] {
    const auto width = [](const QCPItemText* t) {
      return QFontMetrics(t->font()).boundingRect(QRect(), 0, t->text()).width() + 12;
    };
    const int room = plot_->axisRect()->width();
    both_up->setVisible(width(both_up) + width(bad) <= room);
    both_down->setVisible(width(both_down) + width(good) <= room);
  });
  correct_ = plot_->addGraph();
  misranked_ = plot_->addGraph();
  for (auto [g, c, name] : {std::tuple{correct_, kCorrect, tr("ranked right (a > b)")},
                            std::tuple{misranked_, kMisranked, tr("mis-ranked")}}) {
    g->setLineStyle(QCPGraph::lsNone);
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, c, 7));
    g->setName(name);
  }
  ring_ = new QCPItemEllipse(plot_);
  ring_->setPen(QPen(Qt::black, 2));
  ring_->setVisible(false);
  plot_->legend->setVisible(true);
  plot_->legend->setBrush(QColor(255, 255, 255, 200));
  plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignLeft | Qt::AlignBottom);
  plot_->legend->setVisible(false);  // the corner words say it; colours are in the tooltip
  plot_->setToolTip(
      tr("Each eval pair at its chosen and rejected log-ratio. Below the dashed diagonal "
         "a = b the pair is ranked right (green); above it, mis-ranked (orange). Click a point "
         "to inspect that pair."));
  connect(plot_, &QCustomPlot::mousePress, this, &QuadrantScatter::onPress);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(plot_);
}

QuadrantScatter::~QuadrantScatter() = default;

void QuadrantScatter::setPairs(const std::vector<dpo::PairRecord>& pairs) {
  pairs_ = pairs;
  QVector<double> cx, cy, mx, my;
  for (const auto& p : pairs_) {
    (p.misranked ? mx : cx).push_back(p.logratio_chosen);
    (p.misranked ? my : cy).push_back(p.logratio_rejected);
  }
  correct_->setData(cx, cy);
  misranked_->setData(mx, my);
  rescale();
  setSelectedLine(selected_);
}

void QuadrantScatter::rescale() {
  // Each axis spans its data and 0, so all four quadrants' boundaries stay in view.
  double x_lo = 0, x_hi = 0, y_lo = 0, y_hi = 0;
  for (const auto& p : pairs_) {
    x_lo = std::min(x_lo, p.logratio_chosen);
    x_hi = std::max(x_hi, p.logratio_chosen);
    y_lo = std::min(y_lo, p.logratio_rejected);
    y_hi = std::max(y_hi, p.logratio_rejected);
  }
  const auto pad = [](double lo, double hi) {
    const double span = std::max(hi - lo, 0.1);
    return QCPRange(lo - 0.12 * span, hi + 0.12 * span);
  };
  plot_->xAxis->setRange(pad(x_lo, x_hi));
  plot_->yAxis->setRange(pad(y_lo, y_hi));
}

void QuadrantScatter::setSelectedLine(std::optional<qint64> line) {
  selected_ = line;
  ring_->setVisible(false);
  if (line) {
    for (const auto& p : pairs_) {
      if (static_cast<qint64>(p.line) != *line) continue;
      const double rx = plot_->xAxis->range().size() * 0.025, ry = plot_->yAxis->range().size() * 0.025;
      ring_->topLeft->setCoords(p.logratio_chosen - rx, p.logratio_rejected + ry);
      ring_->bottomRight->setCoords(p.logratio_chosen + rx, p.logratio_rejected - ry);
      ring_->setVisible(true);
    }
  }
  plot_->replot(QCustomPlot::rpQueuedReplot);
}

QWidget* QuadrantScatter::canvas() const { return plot_; }

std::optional<QPoint> QuadrantScatter::pointPosition(qint64 line) {
  plot_->replot();
  for (const auto& p : pairs_)
    if (static_cast<qint64>(p.line) == line)
      return QPoint(static_cast<int>(plot_->xAxis->coordToPixel(p.logratio_chosen)),
                    static_cast<int>(plot_->yAxis->coordToPixel(p.logratio_rejected)));
  return std::nullopt;
}

void QuadrantScatter::onPress(QMouseEvent* event) {
  std::optional<qint64> best;
  double best_d2 = 12.0 * 12.0;  // pixels
  for (const auto& p : pairs_) {
    const double dx = plot_->xAxis->coordToPixel(p.logratio_chosen) - event->position().x();
    const double dy = plot_->yAxis->coordToPixel(p.logratio_rejected) - event->position().y();
    if (dx * dx + dy * dy < best_d2) {
      best_d2 = dx * dx + dy * dy;
      best = static_cast<qint64>(p.line);
    }
  }
  if (best) Q_EMIT pairClicked(*best);
}

MarginHistogram::MarginHistogram(QWidget* parent) : QFrame(parent) {
  setFrameShape(QFrame::StyledPanel);
  plot_ = new QCustomPlot(this);
  plot_->setMinimumSize(170, 150);
  plot_->xAxis->setLabel(tr("reward margin β·(a − b)  [nats]"));
  plot_->yAxis->setLabel(tr("eval pairs"));
  below_ = new QCPBars(plot_->xAxis, plot_->yAxis);
  above_ = new QCPBars(plot_->xAxis, plot_->yAxis);
  below_->setBrush(QColor(kMisranked.red(), kMisranked.green(), kMisranked.blue(), 170));
  below_->setPen(QPen(kMisranked.darker(120)));
  above_->setBrush(QColor(kCorrect.red(), kCorrect.green(), kCorrect.blue(), 170));
  above_->setPen(QPen(kCorrect.darker(120)));
  axisLine(plot_, {0, 0}, {0, 1}, Qt::DashLine);
  mark_ = new QCPItemStraightLine(plot_);
  mark_->setPen(QPen(Qt::black, 2));
  mark_->setVisible(false);
  plot_->setToolTip(
      tr("Margins of the eval pairs at the latest evaluation; left of 0 = mis-ranked. Two separate "
         "humps suggest noisy labels (try robust DPO / cDPO). The black line is the selected pair."));
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(plot_);
}

MarginHistogram::~MarginHistogram() = default;

void MarginHistogram::setMargins(const QVector<double>& margins) {
  counts_.clear();
  QVector<double> keys_below, below, keys_above, above;
  if (!margins.isEmpty()) {
    double lo = *std::min_element(margins.begin(), margins.end());
    double hi = *std::max_element(margins.begin(), margins.end());
    lo = std::min(lo, 0.0);
    hi = std::max(hi, 0.0);
    if (hi - lo < 1e-6) hi = lo + 1e-3;
    const int bins = std::clamp(static_cast<int>(std::sqrt(margins.size())) * 2, 8, 30);
    // Bin edges aligned so 0 is an edge: a bar is wholly mis-ranked or wholly right.
    double width = (hi - lo) / bins;
    const double start = std::floor(lo / width) * width;
    const int n = static_cast<int>(std::ceil((hi - start) / width)) + 1;
    counts_.fill(0, n);
    for (double m : margins)
      counts_[std::clamp(static_cast<int>(std::floor((m - start) / width)), 0, n - 1)]++;
    for (int i = 0; i < n; ++i) {
      const double centre = start + (i + 0.5) * width;
      (centre < 0 ? keys_below : keys_above).push_back(centre);
      (centre < 0 ? below : above).push_back(counts_[i]);
    }
    below_->setWidth(width);
    above_->setWidth(width);
    plot_->xAxis->setRange(start - width, start + (n + 1) * width);
    plot_->yAxis->setRange(0, *std::max_element(counts_.begin(), counts_.end()) * 1.15 + 0.5);
  }
  below_->setData(keys_below, below);
  above_->setData(keys_above, above);
  plot_->replot(QCustomPlot::rpQueuedReplot);
}

void MarginHistogram::setMarked(std::optional<double> margin) {
  mark_->setVisible(margin.has_value());
  if (margin) {
    mark_->point1->setCoords(*margin, 0);
    mark_->point2->setCoords(*margin, 1);
  }
  plot_->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace dpo::widgets
