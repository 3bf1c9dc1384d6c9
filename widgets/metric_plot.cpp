#include "widgets/metric_plot.h"

#include <qcustomplot.h>

#include <QFile>
#include <QFileDialog>
#include <QLabel>
#include <QMenu>
#include <QTextStream>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <map>

namespace dpo::widgets {

namespace {
constexpr int kRedrawIntervalMs = 40;

QColor faded(QColor c, int alpha) {
  c.setAlpha(alpha);
  return c;
}

void styleAxis(QCPAxis* axis) {
  const QColor text(0x33, 0x33, 0x33);
  axis->setBasePen(QPen(QColor(0x99, 0x99, 0x99)));
  axis->setTickPen(QPen(QColor(0x99, 0x99, 0x99)));
  axis->setSubTickPen(QPen(QColor(0xbb, 0xbb, 0xbb)));
  axis->setTickLabelColor(text);
  axis->setLabelColor(text);
  axis->grid()->setPen(QPen(QColor(0xe3, 0xe3, 0xe3), 1, Qt::SolidLine));
  axis->grid()->setSubGridVisible(false);
  axis->grid()->setZeroLinePen(Qt::NoPen);
}
}  // namespace

MetricPlot::MetricPlot(QWidget* parent) : QFrame(parent) {
  setFrameShape(QFrame::StyledPanel);
  setObjectName("MetricPlot");

  title_ = new QLabel(this);
  QFont tf = title_->font();
  tf.setBold(true);
  tf.setPointSizeF(tf.pointSizeF() * 1.1);
  title_->setFont(tf);

  caption_ = new QLabel(this);
  caption_->setWordWrap(true);
  caption_->setStyleSheet("color: #5f6b7a;");

  plot_ = new QCustomPlot(this);
  plot_->setMinimumSize(280, 180);
  plot_->setNoAntialiasingOnDrag(true);
  plot_->setPlottingHints(QCP::phFastPolylines | QCP::phCacheLabels);
  // Antialiased lines cost ~20x the painting time (50 ms a replot on a loaded 2-core machine, p99
  // event-loop lateness 350 ms during a run); text and axes stay smooth.
  plot_->setNotAntialiasedElements(QCP::aePlottables | QCP::aeGrid | QCP::aeSubGrid | QCP::aeZeroLine);
  plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  for (QCPAxis* axis : {plot_->xAxis, plot_->yAxis, plot_->xAxis2, plot_->yAxis2}) styleAxis(axis);
  plot_->xAxis2->setVisible(false);
  plot_->yAxis2->setVisible(false);

  // Legend in its own row under the axes, laid out horizontally, so it never hides data.
  plot_->legend->setVisible(true);
  plot_->legend->setBorderPen(Qt::NoPen);
  plot_->legend->setBrush(Qt::NoBrush);
  plot_->legend->setFillOrder(QCPLegend::foColumnsFirst);
  QFont lf = font();
  lf.setPointSizeF(lf.pointSizeF() * 0.9);
  plot_->legend->setFont(lf);
  auto* legend_row = new QCPLayoutGrid;
  plot_->plotLayout()->addElement(1, 0, legend_row);
  legend_row->setMargins(QMargins(6, 0, 6, 4));
  legend_row->addElement(0, 0, plot_->legend);
  plot_->plotLayout()->setRowStretchFactor(1, 0.001);

  // Once the user drags or zooms, stop autoscaling until they ask for it back.
  connect(plot_, &QCustomPlot::mousePress, this, [this](QMouseEvent*) { auto_range_ = false; });
  connect(plot_, &QCustomPlot::mouseWheel, this, [this](QWheelEvent*) { auto_range_ = false; });
  connect(plot_, &QCustomPlot::mouseDoubleClick, this, [this](QMouseEvent*) { resetView(); });
  connect(plot_, &QCustomPlot::mouseMove, this, &MetricPlot::showValuesAt);
  plot_->setMouseTracking(true);
  connect(plot_, &QCustomPlot::afterReplot, this, [this] { ++replots_; });
  plot_->setContextMenuPolicy(Qt::CustomContextMenu);
  connect(plot_, &QWidget::customContextMenuRequested, this, &MetricPlot::showContextMenu);

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(8, 6, 8, 6);
  layout->setSpacing(2);
  layout->addWidget(title_);
  layout->addWidget(caption_);
  layout->addWidget(plot_, 1);

  timer_.setInterval(kRedrawIntervalMs);
  connect(&timer_, &QTimer::timeout, this, &MetricPlot::onTick);
}

MetricPlot::~MetricPlot() = default;

void MetricPlot::setTitle(const QString& title) { title_->setText(title); }
QString MetricPlot::title() const { return title_->text(); }
void MetricPlot::setCaption(const QString& caption) { caption_->setText(caption); }

void MetricPlot::setAxisLabels(const QString& x, const QString& y, const QString& y_right) {
  plot_->xAxis->setLabel(x);
  plot_->yAxis->setLabel(y);
  plot_->yAxis2->setLabel(y_right);
}

void MetricPlot::setRightAxisRange(double lower, double upper) {
  right_range_ = std::make_pair(lower, upper);
  plot_->yAxis2->setRange(lower, upper);
}

void MetricPlot::setReferenceLine(double y, const QString& label) {
  if (!reference_) {
    reference_ = new QCPItemStraightLine(plot_);
    reference_->setPen(QPen(QColor(0x70, 0x70, 0x70), 1.2, Qt::DashLine));
    reference_->setLayer("grid");
  }
  reference_y_ = y;
  reference_->point1->setCoords(0, y);
  reference_->point2->setCoords(1, y);
  if (!label.isEmpty()) {
    if (!reference_label_) {
      reference_label_ = new QCPItemText(plot_);
      reference_label_->position->setTypeX(QCPItemPosition::ptAxisRectRatio);
      reference_label_->position->setTypeY(QCPItemPosition::ptPlotCoords);
      reference_label_->setPositionAlignment(Qt::AlignRight | Qt::AlignBottom);
      reference_label_->setColor(QColor(0x70, 0x70, 0x70));
      reference_label_->setLayer("grid");
    }
    reference_label_->position->setCoords(0.99, y);
    reference_label_->setText(label);
  }
  dirty_ = true;
  if (!timer_.isActive()) timer_.start();
}

int MetricPlot::addSeries(const QString& name, const QColor& color, Axis axis, bool dashed) {
  QCPAxis* value_axis = axis == Axis::Right ? plot_->yAxis2 : plot_->yAxis;
  if (axis == Axis::Right) {
    plot_->yAxis2->setVisible(true);
    plot_->yAxis2->setTickLabels(true);
  }
  const Qt::PenStyle style = dashed ? Qt::DashLine : Qt::SolidLine;
  Series s;
  s.raw = plot_->addGraph(plot_->xAxis, value_axis);
  s.raw->setName(name);
  s.smooth = plot_->addGraph(plot_->xAxis, value_axis);
  s.smooth->setName(name);
  s.raw->setPen(QPen(color, 2.0, style));
  s.smooth->setPen(QPen(color, 2.2, style));
  series_.push_back(s);
  rebuildSmoothed();  // applies the styling for the current smoothing to the new pair
  return static_cast<int>(series_.size()) - 1;
}

int MetricPlot::addPointSeries(const QString& name, const QColor& color, Axis axis) {
  const int index = addSeries(name, color, axis);
  auto& s = series_[index];
  s.points = true;
  s.smoothed = false;
  s.raw->setLineStyle(QCPGraph::lsNone);
  s.raw->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, QPen(color.darker(130), 1.2), color, 9));
  rebuildSmoothed();
  return index;
}

bool MetricPlot::isPointSeries(int series) const {
  return series >= 0 && series < seriesCount() && series_[series].points;
}

void MetricPlot::addMarker(double x, const QString& label) {
  auto* line = new QCPItemStraightLine(plot_);
  line->setPen(QPen(QColor(0x8e, 0x44, 0xad), 1.4, Qt::DotLine));
  line->point1->setCoords(x, 0);
  line->point2->setCoords(x, 1);
  auto* text = new QCPItemText(plot_);
  text->position->setTypeX(QCPItemPosition::ptPlotCoords);
  text->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
  text->position->setCoords(x, 0.02);
  text->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
  text->setPadding(QMargins(3, 0, 0, 0));
  text->setColor(QColor(0x8e, 0x44, 0xad));
  text->setText(label);
  markers_.emplace_back(line, text);
  dirty_ = true;
  if (!timer_.isActive()) timer_.start();
}

void MetricPlot::addPoint(int series, double x, double y) {
  if (series < 0 || series >= seriesCount()) return;
  auto& s = series_[series];
  s.pending_x.push_back(x);
  s.pending_y.push_back(y);
  dirty_ = true;
  if (!timer_.isActive()) timer_.start();
}

void MetricPlot::clear() {
  for (auto& s : series_) {
    s.raw->data()->clear();
    s.smooth->data()->clear();
    s.pending_x.clear();
    s.pending_y.clear();
    s.drawn = 0;
    s.ema.reset();
  }
  for (auto [line, text] : markers_) {
    plot_->removeItem(line);
    plot_->removeItem(text);
  }
  markers_.clear();
  auto_range_ = true;
  dirty_ = true;
  if (!timer_.isActive()) timer_.start();
}

int MetricPlot::pointCount(int series) const {
  if (series < 0 || series >= seriesCount()) return 0;
  return series_[series].drawn + static_cast<int>(series_[series].pending_x.size());
}

int MetricPlot::drawnPointCount(int series) const {
  if (series < 0 || series >= seriesCount()) return 0;
  return series_[series].raw->dataCount();
}

void MetricPlot::setSmoothing(double weight) {
  smoothing_ = std::clamp(weight, 0.0, 0.999);
  rebuildSmoothed();
  dirty_ = true;
  if (!timer_.isActive()) timer_.start();
}

void MetricPlot::setSeriesSmoothed(int series, bool on) {
  if (series < 0 || series >= seriesCount()) return;
  series_[series].smoothed = on;
  rebuildSmoothed();
  dirty_ = true;
  if (!timer_.isActive()) timer_.start();
}

void MetricPlot::appendSmoothed(Series& s, const QVector<double>& xs, const QVector<double>& ys) {
  if (smoothing_ <= 0 || !s.smoothed) return;
  QVector<double> sy(ys.size());
  for (qsizetype i = 0; i < ys.size(); ++i) sy[i] = s.ema.add(ys[i]);
  s.smooth->addData(xs, sy, true);
}

QVector<double> MetricPlot::smoothedValues(int series) const {
  QVector<double> out;
  if (series < 0 || series >= seriesCount()) return out;
  const auto& data = series_[series].smooth->data();
  for (auto it = data->constBegin(); it != data->constEnd(); ++it) out.push_back(it->value);
  return out;
}

void MetricPlot::rebuildSmoothed() {
  for (auto& s : series_) {
    const bool smooth = smoothing_ > 0 && s.smoothed;
    QPen raw_pen = s.smooth->pen();
    if (smooth) {
      raw_pen.setColor(faded(raw_pen.color(), 70));
      raw_pen.setWidthF(1.2);
    }
    s.raw->setPen(raw_pen);
    s.smooth->setVisible(smooth);
    if (smooth) {
      s.raw->removeFromLegend();
      s.smooth->addToLegend();
    } else {
      s.smooth->removeFromLegend();
      s.raw->addToLegend();
    }
    s.smooth->data()->clear();
    s.ema = DebiasedEma(smoothing_);
    if (smooth && !s.raw->data()->isEmpty()) {
      QVector<double> xs, ys;
      for (auto it = s.raw->data()->constBegin(); it != s.raw->data()->constEnd(); ++it) {
        xs.push_back(it->key);
        ys.push_back(it->value);
      }
      appendSmoothed(s, xs, ys);
    }
  }
}

void MetricPlot::rescale() {
  if (!auto_range_) return;
  bool any = false;
  for (auto& s : series_) any = any || !s.raw->data()->isEmpty();
  if (!any) return;
  plot_->rescaleAxes(true);
  plot_->xAxis->rescale(true);
  QCPRange x = plot_->xAxis->range();
  x.lower = std::min(0.0, x.lower);
  if (x.size() < 1) x.upper = x.lower + 1;
  x.upper += 0.015 * x.size();  // markers on the last step stay whole
  plot_->xAxis->setRange(x);

  auto pad = [](QCPAxis* axis, std::optional<double> include) {
    QCPRange r = axis->range();
    if (include) r.expand(*include);
    double span = r.size();
    if (span < 1e-9) span = std::max(1e-3, std::abs(r.center()) * 0.2);
    axis->setRange(r.lower - 0.08 * span, r.upper + 0.08 * span);
  };
  plot_->yAxis->rescale(true);
  if (log_scale_) {
    // Padding by a factor keeps the range positive; the reference line counts only if drawable.
    QCPRange r = plot_->yAxis->range();
    if (reference_y_ && *reference_y_ > 0) r.expand(*reference_y_);
    if (r.lower > 0) plot_->yAxis->setRange(r.lower / 1.25, r.upper * 1.25);
  } else {
    pad(plot_->yAxis, reference_y_);
  }
  if (right_range_) {
    plot_->yAxis2->setRange(right_range_->first, right_range_->second);
  } else if (plot_->yAxis2->visible()) {
    plot_->yAxis2->rescale(true);
    pad(plot_->yAxis2, std::nullopt);
  }
}

void MetricPlot::onTick() {
  if (!dirty_) {
    timer_.stop();
    return;
  }
  dirty_ = false;
  for (auto& s : series_) {
    if (s.pending_x.isEmpty()) continue;
    s.raw->addData(s.pending_x, s.pending_y, true);
    appendSmoothed(s, s.pending_x, s.pending_y);
    s.drawn += static_cast<int>(s.pending_x.size());
    s.pending_x.clear();
    s.pending_y.clear();
  }
  rescale();
  plot_->replot();
}

void MetricPlot::flush() {
  if (dirty_) onTick();
}

bool MetricPlot::savePng(const QString& path, int width, int height) {
  flush();
  return plot_->savePng(path, width, height, 2.0);
}

void MetricPlot::resetView() {
  auto_range_ = true;
  rescale();
  plot_->replot();
}

void MetricPlot::setLogScale(bool on) {
  if (on == log_scale_) return;
  log_scale_ = on;
  if (on) {
    plot_->yAxis->setScaleType(QCPAxis::stLogarithmic);
    plot_->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
  } else {
    plot_->yAxis->setScaleType(QCPAxis::stLinear);
    plot_->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
  }
  resetView();
}

std::optional<double> MetricPlot::nearestKey(double x) const {
  std::optional<double> best;
  for (const auto& s : series_) {
    const auto& data = s.raw->data();
    if (data->isEmpty()) continue;
    auto it = data->findBegin(x, false);  // first key ≥ x
    for (auto candidate : {it, it == data->constBegin() ? it : it - 1}) {
      if (candidate == data->constEnd()) continue;
      if (!best || std::abs(candidate->key - x) < std::abs(*best - x)) best = candidate->key;
    }
  }
  return best;
}

QString MetricPlot::valuesText(double x) const {
  const auto key = nearestKey(x);
  if (!key) return {};
  auto valueAt = [&](const QCPGraph* graph) -> std::optional<double> {
    auto it = graph->data()->findBegin(*key, false);
    if (it == graph->data()->constEnd() || it->key != *key) return std::nullopt;
    return it->value;
  };
  QStringList lines{QStringLiteral("%1 %2").arg(plot_->xAxis->label().isEmpty() ? tr("x") : plot_->xAxis->label())
                        .arg(*key, 0, 'g', 10)};
  for (const auto& s : series_) {
    const auto raw = valueAt(s.raw);
    if (!raw) continue;
    QString line = QStringLiteral("%1: %2").arg(s.raw->name()).arg(*raw, 0, 'g', 6);
    if (s.smooth->visible())
      if (const auto smooth = valueAt(s.smooth)) line += tr(" (smoothed %1)").arg(*smooth, 0, 'g', 6);
    lines << line;
  }
  return lines.join('\n');
}

void MetricPlot::showValuesAt(QMouseEvent* event) {
  if (!plot_->axisRect()->rect().contains(event->pos())) {
    QToolTip::hideText();
    return;
  }
  const QString text = valuesText(plot_->xAxis->pixelToCoord(event->pos().x()));
  if (text.isEmpty()) return;
  QToolTip::showText(plot_->mapToGlobal(event->pos() + QPoint(14, 10)), text, plot_);
}

bool MetricPlot::saveCsv(const QString& path) {
  flush();
  std::map<double, std::vector<std::optional<double>>> rows;
  QStringList header{plot_->xAxis->label().isEmpty() ? QStringLiteral("x") : plot_->xAxis->label()};
  std::vector<const QCPGraph*> columns;
  for (const auto& s : series_) {
    columns.push_back(s.raw);
    header << s.raw->name();
    if (s.smooth->visible()) {
      columns.push_back(s.smooth);
      header << tr("%1 (smoothed)").arg(s.raw->name());
    }
  }
  for (size_t c = 0; c < columns.size(); ++c) {
    const auto& data = columns[c]->data();
    for (auto it = data->constBegin(); it != data->constEnd(); ++it) {
      auto& row = rows[it->key];
      row.resize(columns.size());
      row[c] = it->value;
    }
  }
  QFile file(path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) return false;
  QTextStream out(&file);
  auto quoted = [](QString field) {
    if (!field.contains(',') && !field.contains('"')) return field;
    return '"' + field.replace('"', "\"\"") + '"';
  };
  QStringList names;
  for (const auto& h : header) names << quoted(h);
  out << names.join(',') << '\n';
  for (const auto& [key, values] : rows) {
    QStringList fields{QString::number(key, 'g', 12)};
    for (size_t c = 0; c < columns.size(); ++c)
      fields << (c < values.size() && values[c] ? QString::number(*values[c], 'g', 12) : QString());
    out << fields.join(',') << '\n';
  }
  return out.status() == QTextStream::Ok;
}

void MetricPlot::showContextMenu(const QPoint& pos) {
  QMenu menu(this);
  menu.addAction(tr("Reset view (double-click)"), this, &MetricPlot::resetView);
  QAction* log = menu.addAction(tr("Log scale (y)"));
  log->setCheckable(true);
  log->setChecked(log_scale_);
  connect(log, &QAction::toggled, this, &MetricPlot::setLogScale);
  menu.addSeparator();
  menu.addAction(tr("Save as PNG…"), this, [this] {
    const QString path = QFileDialog::getSaveFileName(this, tr("Save plot"), title_->text() + ".png",
                                                      tr("PNG images (*.png)"));
    if (!path.isEmpty()) savePng(path);
  });
  menu.addAction(tr("Save data as CSV…"), this, [this] {
    const QString path = QFileDialog::getSaveFileName(this, tr("Save plot data"), objectName() + ".csv",
                                                      tr("CSV files (*.csv)"));
    if (!path.isEmpty()) saveCsv(path);
  });
  menu.exec(plot_->mapToGlobal(pos));
}

}  // namespace dpo::widgets
