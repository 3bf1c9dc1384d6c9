#include "widgets/metric_plot.h"

#include <qcustomplot.h>

#include <QEvent>
#include <QFile>
#include <QFileDialog>
#include <QFontMetricsF>
#include <QLabel>
#include <QMenu>
#include <QTextStream>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "widgets/decimate.h"
#include "widgets/svg_writer.h"

namespace dpo::widgets {

namespace {
constexpr int kRedrawIntervalMs = 40;

QColor faded(QColor c, int alpha) {
  c.setAlpha(alpha);
  return c;
}

// a·(1 − t) + b·t per channel.
QColor blend(const QColor& a, const QColor& b, double t) {
  return QColor::fromRgbF(static_cast<float>(a.redF() * (1 - t) + b.redF() * t),
                          static_cast<float>(a.greenF() * (1 - t) + b.greenF() * t),
                          static_cast<float>(a.blueF() * (1 - t) + b.blueF() * t));
}

// A line graph that hands the painter at most two points (the lowest and the highest, in their
// order) per bucket of pixels of the key axis, plus the first and last: a replot then costs the same
// at 200 points and at 20,000 (issue 19's soak: without it the cost grew 4x over 2,000 steps).
// QCustomPlot's own adaptive sampling only starts beyond two points per pixel.
class DecimatedGraph : public QCPGraph {
 public:
  // bucket_pixels: 3 for a raw line (its spikes stay visible), more for a smoothed one, whose wide
  // pen costs per segment and which has no spikes to keep.
  DecimatedGraph(QCPAxis* key_axis, QCPAxis* value_axis, double bucket_pixels)
      : QCPGraph(key_axis, value_axis), kBucketPixels(bucket_pixels) {}
  const double kBucketPixels;

 protected:
  void getOptimizedLineData(QVector<QCPGraphData>* line, const QCPGraphDataContainer::const_iterator& begin,
                            const QCPGraphDataContainer::const_iterator& end) const override {
    QCPAxis* key_axis = mKeyAxis.data();
    if (line == nullptr || key_axis == nullptr || lineStyle() != lsLine || end - begin < 3) {
      QCPGraph::getOptimizedLineData(line, begin, end);
      return;
    }
    const double span = std::abs(key_axis->coordToPixel((end - 1)->key) - key_axis->coordToPixel(begin->key));
    if (static_cast<double>(end - begin) <= 2.0 * span / kBucketPixels + 2) {
      QCPGraph::getOptimizedLineData(line, begin, end);
      return;
    }
    std::vector<double> pixels, values;
    pixels.reserve(static_cast<size_t>(end - begin));
    values.reserve(static_cast<size_t>(end - begin));
    for (auto it = begin; it != end; ++it) {
      pixels.push_back(key_axis->coordToPixel(it->key));
      values.push_back(it->value);
    }
    line->clear();
    for (const size_t i : decimated_indices(pixels, values, kBucketPixels))
      line->append(*(begin + static_cast<int>(i)));
  }
};

// The plot's colours, all from the palette so a dark theme stays readable.
struct PlotColors {
  QColor background, text, axis, grid, reference, marker, caption;
  explicit PlotColors(const QPalette& p) {
    background = p.color(QPalette::Window);
    text = p.color(QPalette::WindowText);
    axis = p.color(QPalette::Mid);
    grid = blend(background, axis, 0.45);
    reference = blend(text, background, 0.45);
    caption = blend(text, background, 0.35);
    const bool dark = background.lightnessF() < 0.5;
    marker = dark ? QColor(0xc3, 0x9b, 0xd3) : QColor(0x8e, 0x44, 0xad);
  }
};

void styleAxis(QCPAxis* axis, const PlotColors& c) {
  axis->setBasePen(QPen(c.axis));
  axis->setTickPen(QPen(c.axis));
  axis->setSubTickPen(QPen(c.axis));
  axis->setTickLabelColor(c.text);
  axis->setLabelColor(c.text);
  axis->grid()->setPen(QPen(c.grid, 1, Qt::SolidLine));
  axis->grid()->setSubGridVisible(false);
  axis->grid()->setZeroLinePen(Qt::NoPen);
}

// Nearest-rank trimmed range: drops k = max(1, n/100) values at each end once n ≥ 10.
std::optional<QCPRange> percentileRange(std::vector<double>& v) {
  const size_t n = v.size();
  if (n == 0) return std::nullopt;
  const size_t k = n >= 10 ? std::max<size_t>(1, n / 100) : 0;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  const double lo = v[k];
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n - 1 - k), v.end());
  const double hi = v[n - 1 - k];
  return QCPRange(lo, hi);
}
}  // namespace

MetricPlot::MetricPlot(QWidget* parent) : QFrame(parent) {
  setFrameShape(QFrame::StyledPanel);
  setObjectName("MetricPlot");

  title_ = new QLabel(this);
  title_->setWordWrap(true);  // a long title (a lesson's ★, large fonts) wraps instead of widening the grid
  QFont tf = title_->font();
  tf.setBold(true);
  tf.setPointSizeF(tf.pointSizeF() * 1.1);
  title_->setFont(tf);

  caption_ = new QLabel(this);
  caption_->setWordWrap(true);

  plot_ = new QCustomPlot(this);
  plot_->setMinimumSize(220, 120);
  plot_->setNoAntialiasingOnDrag(true);
  plot_->setPlottingHints(QCP::phFastPolylines | QCP::phCacheLabels);
  // Antialiased lines cost ~20x the painting time (50 ms a replot on a loaded 2-core machine, p99
  // event-loop lateness 350 ms during a run); text and axes stay smooth.
  plot_->setNotAntialiasedElements(QCP::aePlottables | QCP::aeGrid | QCP::aeSubGrid | QCP::aeZeroLine);
  plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  plot_->xAxis2->setVisible(false);
  plot_->yAxis2->setVisible(false);

  // Legend in its own row under the axes, laid out horizontally, so it never hides data.
  plot_->legend->setVisible(true);
  plot_->legend->setBorderPen(Qt::NoPen);
  plot_->legend->setBrush(Qt::NoBrush);
  plot_->legend->setFillOrder(QCPLegend::foColumnsFirst);
  // Small swatches and tight entries: two or three columns fit a laptop's half-width plot.
  plot_->legend->setIconSize(18, 10);
  plot_->legend->setIconTextPadding(4);
  plot_->legend->setRowSpacing(0);
  QFont lf = font();
  lf.setPointSizeF(lf.pointSizeF() * 0.9);
  plot_->legend->setFont(lf);
  auto* legend_row = new QCPLayoutGrid;
  plot_->plotLayout()->addElement(1, 0, legend_row);
  legend_row->setMargins(QMargins(6, 0, 6, 4));
  legend_row->addElement(0, 0, plot_->legend);
  plot_->plotLayout()->setRowStretchFactor(1, 0.001);
  connect(plot_, &QCustomPlot::beforeReplot, this, &MetricPlot::fitLegend);
  connect(plot_, &QCustomPlot::afterLayout, this, &MetricPlot::fitAxisTitles);

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
  applyPalette();
}

void MetricPlot::scheduleRedraw() {
  dirty_ = true;
  if (!timer_.isActive()) timer_.start();
}

void MetricPlot::applyPalette() {
  const PlotColors c(palette());
  plot_->setBackground(QBrush(c.background));
  for (QCPAxis* axis : {plot_->xAxis, plot_->yAxis, plot_->xAxis2, plot_->yAxis2}) styleAxis(axis, c);
  plot_->legend->setTextColor(c.text);
  QPalette caption_palette = caption_->palette();
  caption_palette.setColor(QPalette::WindowText, c.caption);
  caption_->setPalette(caption_palette);
  if (reference_) reference_->setPen(QPen(c.reference, 1.2, Qt::DashLine));
  if (reference_label_) reference_label_->setColor(c.reference);
  for (auto [line, text] : markers_) {
    line->setPen(QPen(c.marker, 1.4, Qt::DotLine));
    text->setColor(c.marker);
  }
}

void MetricPlot::changeEvent(QEvent* event) {
  QFrame::changeEvent(event);
  if (event->type() == QEvent::PaletteChange || event->type() == QEvent::ApplicationPaletteChange) {
    applyPalette();
    scheduleRedraw();
  }
}

QColor MetricPlot::textColor() const { return plot_->xAxis->labelColor(); }

MetricPlot::~MetricPlot() = default;

void MetricPlot::setTitle(const QString& title) { title_->setText(title); }
QString MetricPlot::title() const { return title_->text(); }
void MetricPlot::setCaption(const QString& caption) { caption_->setText(caption); }
void MetricPlot::setCaptionVisible(bool on) { caption_->setVisible(on); }

void MetricPlot::setAxisLabels(const QString& x, const QString& y, const QString& y_right) {
  step_label_ = x;
  if (x_axis_ == XAxis::Step) plot_->xAxis->setLabel(x);
  y_label_ = y;
  y_right_label_ = y_right;
  plot_->yAxis->setLabel(y);
  plot_->yAxis2->setLabel(y_right);
}

void MetricPlot::setShortAxisLabels(const QString& y, const QString& y_right) {
  y_short_ = y;
  y_right_short_ = y_right;
  scheduleRedraw();
}

namespace {
int textWidth(const QFont& font, const QString& text) { return QFontMetrics(font).horizontalAdvance(text); }

// Whether an axis title, centred along its axis rect, stays inside the widget (`size`).
bool axisTitleFits(const QCPAxis* axis, const QString& label, QSize size) {
  if (label.isEmpty() || !axis->visible()) return true;
  const QRect r = axis->axisRect()->rect();
  const int half = textWidth(axis->labelFont(), label) / 2 + 2;
  const bool vertical = axis->axisType() == QCPAxis::atLeft || axis->axisType() == QCPAxis::atRight;
  const int centre = vertical ? r.center().y() : r.center().x();
  const int extent = vertical ? size.height() : size.width();
  // Longer than its axis looks cut even while the widget still shows it.
  const int along = vertical ? r.height() : r.width();
  return 2 * half <= along + 24 && centre - half >= 0 && centre + half <= extent;
}
}  // namespace

void MetricPlot::fitLegend() {
  QCPLegend* legend = plot_->legend;
  const int n = legend->elementCount();
  if (n == 0) return;
  QVector<int> widths;
  for (int i = 0; i < n; ++i)
    if (auto* e = static_cast<QCPLayoutElement*>(legend->elementAt(i))) {
      e->setMargins(QMargins(3, 1, 8, 1));
      widths << e->minimumOuterSizeHint().width();
    }
  const int room = plot_->width() - 12 - legend->margins().left() - legend->margins().right();
  // The most columns whose widest entries (entry i sits in column i mod c) fit side by side.
  int columns = static_cast<int>(widths.size());
  for (; columns > 1; --columns) {
    int total = (columns - 1) * legend->columnSpacing();
    for (int c = 0; c < columns; ++c) {
      int widest = 0;
      for (int i = c; i < widths.size(); i += columns) widest = std::max(widest, widths[i]);
      total += widest;
    }
    if (total <= room) break;
  }
  if (legend->wrap() != columns) {
    legend->setWrap(columns);
    legend->setFillOrder(QCPLegend::foColumnsFirst, true);  // re-flow the entries into the new grid
  }
}

void MetricPlot::fitAxisTitles() {
  const QSize size = plot_->size();
  if (!isVisible() || size.width() < 50 || size.height() < 50) return;  // not laid out for real yet
  const auto choose = [&](QCPAxis* axis, const QString& full, const QString& shorter) {
    // The full title, else the short one, else none (a plot squeezed that small still has its
    // title and caption above saying what it shows): never a title cut in half.
    const QString want = axisTitleFits(axis, full, size)                            ? full
                         : !shorter.isEmpty() && axisTitleFits(axis, shorter, size) ? shorter
                                                                                    : QString();
    if (axis->label() != want) axis->setLabel(want);
  };
  choose(plot_->yAxis, y_label_, y_short_);
  choose(plot_->yAxis2, y_right_label_, y_right_short_);
  // The reference line's label sits above its line, or below it when the line runs along the top
  // of the axes ("ln 2" at the start of a loss plot was cut by the top edge).
  if (reference_label_ && reference_y_) {
    const double line = plot_->yAxis->coordToPixel(*reference_y_);
    const int text_height = QFontMetrics(reference_label_->font()).height();
    const bool below = line - text_height < plot_->axisRect()->top();
    reference_label_->setPositionAlignment(Qt::AlignRight | (below ? Qt::AlignTop : Qt::AlignBottom));
  }
}

QStringList MetricPlot::cutTexts() const {
  QStringList cut;
  const QSize size = plot_->size();
  for (QCPAxis* axis : {plot_->xAxis, plot_->yAxis, plot_->yAxis2})
    if (!axisTitleFits(axis, axis->label(), size)) cut << axis->label();
  const QCPLegend* legend = plot_->legend;
  for (int i = 0; i < legend->elementCount(); ++i) {
    auto* e = static_cast<QCPLayoutElement*>(legend->elementAt(i));
    auto* item = qobject_cast<QCPPlottableLegendItem*>(legend->elementAt(i));
    if (!e || !item) continue;
    const QRect r = e->outerRect();
    if (r.width() + 1 < e->minimumOuterSizeHint().width() || !plot_->rect().contains(r))
      cut << item->plottable()->name();
  }
  return cut;
}

void MetricPlot::setRightAxisRange(double lower, double upper) {
  right_range_ = std::make_pair(lower, upper);
  plot_->yAxis2->setRange(lower, upper);
}

void MetricPlot::setReferenceLine(double y, const QString& label) {
  if (!reference_) {
    reference_ = new QCPItemStraightLine(plot_);
    reference_->setPen(QPen(PlotColors(palette()).reference, 1.2, Qt::DashLine));
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
      reference_label_->setColor(PlotColors(palette()).reference);
      reference_label_->setLayer("grid");
    }
    reference_label_->position->setCoords(0.99, y);
    reference_label_->setText(label);
  }
  scheduleRedraw();
}

int MetricPlot::addSeries(const QString& name, const QColor& color, Axis axis, bool dashed) {
  QCPAxis* value_axis = axis == Axis::Right ? plot_->yAxis2 : plot_->yAxis;
  if (axis == Axis::Right) {
    plot_->yAxis2->setVisible(true);
    plot_->yAxis2->setTickLabels(true);
  }
  const Qt::PenStyle style = dashed ? Qt::DashLine : Qt::SolidLine;
  Series s;
  s.raw = new DecimatedGraph(plot_->xAxis, value_axis, 3.0);
  s.raw->setName(name);
  s.smooth = new DecimatedGraph(plot_->xAxis, value_axis, 8.0);
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
  // A 1-pixel outline: wider pens are stroked as polygons, which made every eval point cost.
  s.raw->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, QPen(color.darker(130), 1.0), color, 9));
  rebuildSmoothed();
  return index;
}

bool MetricPlot::isPointSeries(int series) const {
  return series >= 0 && series < seriesCount() && series_[series].points;
}

void MetricPlot::addMarker(double step, const QString& label) {
  const QColor color = PlotColors(palette()).marker;
  const double x = mapStep(step);
  auto* line = new QCPItemStraightLine(plot_);
  line->setPen(QPen(color, 1.4, Qt::DotLine));
  line->point1->setCoords(x, 0);
  line->point2->setCoords(x, 1);
  auto* text = new QCPItemText(plot_);
  text->position->setTypeX(QCPItemPosition::ptPlotCoords);
  text->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
  text->position->setCoords(x, 0.02);
  text->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
  text->setPadding(QMargins(3, 0, 0, 0));
  text->setColor(color);
  text->setText(label);
  markers_.emplace_back(line, text);
  marker_steps_.push_back(step);
  scheduleRedraw();
}

void MetricPlot::addPoint(int series, double x, double y) {
  if (series < 0 || series >= seriesCount()) return;
  auto& s = series_[series];
  s.pending_x.push_back(x);
  s.pending_y.push_back(y);
  scheduleRedraw();
}

void MetricPlot::clear() {
  for (auto& s : series_) {
    s.raw->data()->clear();
    s.smooth->data()->clear();
    s.pending_x.clear();
    s.pending_y.clear();
    s.steps.clear();
    s.values.clear();
    s.drawn = 0;
    s.ema.reset();
  }
  for (auto [line, text] : markers_) {
    plot_->removeItem(line);
    plot_->removeItem(text);
  }
  markers_.clear();
  marker_steps_.clear();
  x_table_.clear();
  mapped_upto_ = -1e300;
  remap_all_ = false;
  auto_range_ = true;
  scheduleRedraw();
}

int MetricPlot::pointCount(int series) const {
  if (series < 0 || series >= seriesCount()) return 0;
  return series_[series].drawn + static_cast<int>(series_[series].pending_x.size());
}

int MetricPlot::drawnPointCount(int series) const {
  if (series < 0 || series >= seriesCount()) return 0;
  return series_[series].raw->dataCount();
}

QVector<QPointF> MetricPlot::drawnPoints(int series) const {
  QVector<QPointF> out;
  if (series < 0 || series >= seriesCount()) return out;
  const auto& points = series_[series].raw->data();
  for (auto it = points->constBegin(); it != points->constEnd(); ++it)
    out.push_back(QPointF(it->key, it->value));
  return out;
}

std::pair<double, double> MetricPlot::yRange(Axis axis) const {
  const QCPRange r = (axis == Axis::Right ? plot_->yAxis2 : plot_->yAxis)->range();
  return {r.lower, r.upper};
}

void MetricPlot::setSmoothing(double weight) {
  smoothing_ = std::clamp(weight, 0.0, 0.999);
  rebuildSmoothed();
  scheduleRedraw();
}

void MetricPlot::setSeriesSmoothed(int series, bool on) {
  if (series < 0 || series >= seriesCount()) return;
  series_[series].smoothed = on;
  rebuildSmoothed();
  scheduleRedraw();
}

namespace {
// Appends points with ascending keys ≥ the graph's, keeping insertion order for equal keys (QCP
// would prepend a batch whose keys all equal the first key; the index ↔ step pairing relies on it).
void appendInOrder(QCPGraph* graph, const QVector<double>& keys, const QVector<double>& values) {
  if (keys.isEmpty()) return;
  auto data = graph->data();
  if (data->isEmpty() ||
      (keys.back() > data->constBegin()->key && keys.front() >= (data->constEnd() - 1)->key)) {
    graph->addData(keys, values, true);
    return;
  }
  QVector<QCPGraphData> all(data->constBegin(), data->constEnd());
  for (qsizetype i = 0; i < keys.size(); ++i) all.push_back(QCPGraphData(keys[i], values[i]));
  data->set(all, true);
}
}  // namespace

void MetricPlot::appendSmoothed(Series& s, const QVector<double>& xs, const QVector<double>& ys) {
  if (smoothing_ <= 0 || !s.smoothed) return;
  QVector<double> sy(ys.size());
  for (qsizetype i = 0; i < ys.size(); ++i) sy[i] = s.ema.add(ys[i]);
  appendInOrder(s.smooth, xs, sy);
}

QVector<double> MetricPlot::smoothedValues(int series) const {
  QVector<double> out;
  if (series < 0 || series >= seriesCount()) return out;
  const auto& points = series_[series].smooth->data();
  for (auto it = points->constBegin(); it != points->constEnd(); ++it) out.push_back(it->value);
  return out;
}

void MetricPlot::rebuildSmoothed() {
  for (auto& s : series_) {
    const bool smooth = smoothing_ > 0 && s.smoothed;
    QPen raw_pen = s.smooth->pen();
    if (smooth) {
      // Faint, thin and solid: a wide or dashed pen on the jagged raw line is what costs in a replot
      // (Qt strokes it as polygons); the smoothed line keeps the series' dash.
      raw_pen.setColor(faded(raw_pen.color(), 70));
      raw_pen.setWidthF(1.0);
      raw_pen.setStyle(Qt::SolidLine);
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

// ---- x axis by step / tokens / time ----

void MetricPlot::addXSample(double step, double tokens, double seconds) {
  if (!std::isfinite(step)) return;
  if (!std::isfinite(tokens)) tokens = 0;
  if (!std::isfinite(seconds)) seconds = 0;
  if (x_table_.empty() || step > x_table_.back().step) {
    if (!x_table_.empty()) {
      tokens = std::max(tokens, x_table_.back().tokens);
      seconds = std::max(seconds, x_table_.back().seconds);
    }
    x_table_.push_back({step, tokens, seconds});
  } else {  // out of order or repeated (a resumed run): insert, keep cumulative, remap everything
    auto it = std::lower_bound(x_table_.begin(), x_table_.end(), step,
                               [](const XSample& a, double s) { return a.step < s; });
    if (it != x_table_.end() && it->step == step)
      *it = {step, tokens, seconds};
    else
      x_table_.insert(it, {step, tokens, seconds});
    for (size_t i = 1; i < x_table_.size(); ++i) {
      x_table_[i].tokens = std::max(x_table_[i].tokens, x_table_[i - 1].tokens);
      x_table_[i].seconds = std::max(x_table_[i].seconds, x_table_[i - 1].seconds);
    }
    remap_all_ = true;
  }
  if (x_axis_ != XAxis::Step) scheduleRedraw();
}

double MetricPlot::mapStep(double step) const {
  if (x_axis_ == XAxis::Step) return step;
  if (x_table_.empty() || step < x_table_.front().step) return 0.0;
  auto value = [this](const XSample& s) { return x_axis_ == XAxis::Tokens ? s.tokens : s.seconds; };
  auto next = std::upper_bound(x_table_.begin(), x_table_.end(), step,
                               [](double s, const XSample& a) { return s < a.step; });
  const XSample& prev = *(next - 1);
  if (next == x_table_.end()) return value(prev);
  const double t = (step - prev.step) / (next->step - prev.step);
  return value(prev) + t * (value(*next) - value(prev));
}

void MetricPlot::setXAxis(XAxis axis) {
  if (axis == x_axis_) return;
  x_axis_ = axis;
  switch (axis) {
    case XAxis::Step:
      plot_->xAxis->setLabel(step_label_);
      break;
    case XAxis::Tokens:
      plot_->xAxis->setLabel(tr("tokens"));
      break;
    case XAxis::Seconds:
      plot_->xAxis->setLabel(tr("time (s)"));
      break;
  }
  remap_all_ = true;
  auto_range_ = true;
  scheduleRedraw();
}

void MetricPlot::remap(double after_step) {
  for (auto& s : series_) {
    const auto first = std::upper_bound(s.steps.cbegin(), s.steps.cend(), after_step) - s.steps.cbegin();
    for (QCPGraph* graph : {s.raw, s.smooth}) {
      auto points = graph->data();
      if (points->size() != s.steps.size()) continue;  // smooth line off
      auto it = points->begin() + first;
      for (qsizetype i = first; i < s.steps.size(); ++i, ++it) it->key = mapStep(s.steps[i]);
    }
  }
  for (size_t i = 0; i < markers_.size(); ++i) {
    const double x = mapStep(marker_steps_[i]);
    markers_[i].first->point1->setCoords(x, 0);
    markers_[i].first->point2->setCoords(x, 1);
    markers_[i].second->position->setCoords(x, 0.02);
  }
}

void MetricPlot::setClipOutliers(bool on) {
  if (on == clip_outliers_) return;
  clip_outliers_ = on;
  resetView();
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

  // Min/max of the raw values on the axis (by hand: QCPAxis::rescale keeps the old span around a
  // constant series, so a fixed learning rate of 1e-4 came out as ±1e21), or their trimmed range.
  auto fit = [this](QCPAxis* axis) -> std::optional<QCPRange> {
    const bool positive = axis->scaleType() == QCPAxis::stLogarithmic;
    std::vector<double> values;
    for (const auto& s : series_) {
      if (s.raw->valueAxis() != axis || !s.raw->visible()) continue;
      for (double v : s.values)
        if (std::isfinite(v) && (!positive || v > 0)) values.push_back(v);
    }
    if (clip_outliers_)
      if (auto r = percentileRange(values)) return r;
    if (values.empty()) return std::nullopt;
    const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
    return QCPRange(*lo, *hi);
  };
  // Room above and below; a constant gets a span of half its size (or 1 around 0).
  auto pad = [](QCPAxis* axis, QCPRange r, std::optional<double> include) {
    if (include) r.expand(*include);
    double span = r.size();
    const double centre = std::abs(r.center());
    if (span <= 1e-9 * centre || span < 1e-300) span = centre > 0 ? centre * 0.5 : 1.0;
    axis->setRange(r.lower - 0.08 * span, r.upper + 0.08 * span);
  };
  const auto left = fit(plot_->yAxis);
  if (log_scale_) {
    // Padding by a factor keeps the range positive; the reference line counts only if drawable.
    if (left) {
      QCPRange r = *left;
      if (reference_y_ && *reference_y_ > 0) r.expand(*reference_y_);
      plot_->yAxis->setRange(r.lower / 1.25, r.upper * 1.25);
    }
  } else if (left) {
    pad(plot_->yAxis, *left, reference_y_);
  }
  if (right_range_) {
    plot_->yAxis2->setRange(right_range_->first, right_range_->second);
  } else if (plot_->yAxis2->visible()) {
    if (const auto right = fit(plot_->yAxis2)) pad(plot_->yAxis2, *right, std::nullopt);
  }
}

void MetricPlot::onTick() {
  if (!dirty_) {
    timer_.stop();
    return;
  }
  dirty_ = false;
  // Re-key what was drawn before the x table knew its steps (or everything, on a switch).
  const double known = x_table_.empty() ? -1e300 : x_table_.back().step;
  if (remap_all_)
    remap(-1e300);
  else if (x_axis_ != XAxis::Step && known > mapped_upto_)
    remap(mapped_upto_);
  remap_all_ = false;
  mapped_upto_ = known;

  bool resmooth = false;
  for (auto& s : series_) {
    if (s.pending_x.isEmpty()) continue;
    const bool in_order = (s.steps.isEmpty() || s.pending_x.front() >= s.steps.back()) &&
                          std::is_sorted(s.pending_x.cbegin(), s.pending_x.cend());
    if (in_order) {
      QVector<double> keys(s.pending_x.size());
      for (qsizetype i = 0; i < keys.size(); ++i) keys[i] = mapStep(s.pending_x[i]);
      s.steps += s.pending_x;
      s.values += s.pending_y;
      appendInOrder(s.raw, keys, s.pending_y);
      appendSmoothed(s, keys, s.pending_y);
    } else {  // a step went back (a resumed run): merge by step, redraw this series whole
      QVector<std::pair<double, double>> all;
      for (qsizetype i = 0; i < s.steps.size(); ++i) all.push_back({s.steps[i], s.values[i]});
      for (qsizetype i = 0; i < s.pending_x.size(); ++i) all.push_back({s.pending_x[i], s.pending_y[i]});
      std::stable_sort(all.begin(), all.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      s.steps.clear();
      s.values.clear();
      QVector<QCPGraphData> points;
      for (const auto& [step, value] : all) {
        s.steps.push_back(step);
        s.values.push_back(value);
        points.push_back(QCPGraphData(mapStep(step), value));
      }
      s.raw->data()->set(points, true);
      resmooth = true;
    }
    s.drawn = static_cast<int>(s.steps.size());
    s.pending_x.clear();
    s.pending_y.clear();
  }
  if (resmooth) rebuildSmoothed();
  rescale();
  plot_->replot();
}

void MetricPlot::flush() {
  if (dirty_) onTick();
}

bool MetricPlot::savePng(const QString& path, int width, int height, double scale) {
  flush();
  return plot_->savePng(path, width, height, scale);
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

int MetricPlot::indexOfStep(const Series& s, double step) const {
  const auto it = std::lower_bound(s.steps.cbegin(), s.steps.cend(), step);
  if (it == s.steps.cend() || *it != step) return -1;
  return static_cast<int>(it - s.steps.cbegin());
}

std::optional<double> MetricPlot::nearestStep(double x) const {
  std::optional<double> best;
  double best_distance = 0;
  for (const auto& s : series_) {
    if (s.steps.isEmpty()) continue;
    // The mapping is non-decreasing in the step, so drawn x is sorted like the steps.
    const auto it = std::partition_point(s.steps.cbegin(), s.steps.cend(),
                                         [&](double step) { return mapStep(step) < x; });
    for (auto candidate : {it, it == s.steps.cbegin() ? it : it - 1}) {
      if (candidate == s.steps.cend()) continue;
      const double distance = std::abs(mapStep(*candidate) - x);
      if (!best || distance < best_distance) best = *candidate, best_distance = distance;
    }
  }
  return best;
}

QString MetricPlot::valuesText(double x) const {
  const auto step = nearestStep(x);
  if (!step) return {};
  QString head =
      QStringLiteral("%1 %2").arg(step_label_.isEmpty() ? tr("step") : step_label_).arg(*step, 0, 'g', 10);
  if (x_axis_ != XAxis::Step)
    head += QStringLiteral(" · %1 %2").arg(plot_->xAxis->label()).arg(mapStep(*step), 0, 'g', 10);
  QStringList lines{head};
  for (const auto& s : series_) {
    const int i = indexOfStep(s, *step);
    if (i < 0) continue;
    QString line = QStringLiteral("%1: %2").arg(s.raw->name()).arg(s.values[i], 0, 'g', 6);
    if (s.smooth->visible() && s.smooth->data()->size() == s.steps.size())
      line += tr(" (smoothed %1)").arg((s.smooth->data()->constBegin() + i)->value, 0, 'g', 6);
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
  const bool mapped = x_axis_ != XAxis::Step;
  std::map<double, std::vector<std::optional<double>>> rows;
  QStringList header{step_label_.isEmpty() ? QStringLiteral("step") : step_label_};
  if (mapped) header << plot_->xAxis->label();
  size_t column_count = 0;
  for (const auto& s : series_) column_count += s.smooth->visible() ? 2 : 1;
  size_t c = 0;
  for (const auto& s : series_) {
    header << s.raw->name();
    const bool smooth = s.smooth->visible() && s.smooth->data()->size() == s.steps.size();
    if (s.smooth->visible()) header << tr("%1 (smoothed)").arg(s.raw->name());
    for (qsizetype i = 0; i < s.steps.size(); ++i) {
      auto& row = rows[s.steps[i]];
      row.resize(column_count);
      row[c] = s.values[i];
      if (smooth) row[c + 1] = (s.smooth->data()->constBegin() + i)->value;
    }
    c += s.smooth->visible() ? 2 : 1;
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
  for (const auto& [step, values] : rows) {
    QStringList fields{QString::number(step, 'g', 12)};
    if (mapped) fields << QString::number(mapStep(step), 'g', 12);
    for (size_t k = 0; k < column_count; ++k)
      fields << (k < values.size() && values[k] ? QString::number(*values[k], 'g', 12) : QString());
    out << fields.join(',') << '\n';
  }
  return out.status() == QTextStream::Ok;
}

// ---- SVG ----

namespace {
SvgWriter::Stroke strokeOf(const QPen& pen) {
  SvgWriter::Stroke s{pen.color(), std::max(0.5, pen.widthF()), {}};
  const double w = s.width;
  switch (pen.style()) {
    case Qt::DashLine:
      s.dashes = {4 * w, 2 * w};
      break;
    case Qt::DotLine:
      s.dashes = {1 * w, 2 * w};
      break;
    case Qt::DashDotLine:
      s.dashes = {4 * w, 2 * w, 1 * w, 2 * w};
      break;
    default:
      break;
  }
  return s;
}

QVector<QPointF> diamond(QPointF c, double half) {
  return {{c.x(), c.y() - half}, {c.x() + half, c.y()}, {c.x(), c.y() + half}, {c.x() - half, c.y()}};
}
}  // namespace

bool MetricPlot::saveSvg(const QString& path, int width, int height) {
  flush();
  const PlotColors colors(palette());
  const double W = std::max(width, 240), H = std::max(height, 180);
  constexpr double kFontPx = 11, kTitlePx = 14, kTick = 5, kRow = 16;
  QFont font = this->font();
  font.setPixelSize(static_cast<int>(kFontPx));
  const QFontMetricsF fm(font);
  SvgWriter svg(W, H);
  svg.rect(QRectF(0, 0, W, H), colors.background);

  struct Ticks {
    QVector<double> values;
    QVector<QString> labels;
  };
  auto ticksOf = [this](QCPAxis* axis) {
    Ticks all, inside;
    const QString format = axis->numberFormat();
    axis->ticker()->generate(axis->range(), plot_->locale(), format.isEmpty() ? QChar('g') : format.at(0),
                             axis->numberPrecision(), all.values, nullptr, &all.labels);
    for (qsizetype i = 0; i < all.values.size(); ++i)
      if (axis->range().contains(all.values[i])) {
        inside.values << all.values[i];
        inside.labels << (i < all.labels.size() ? all.labels[i] : QString());
      }
    return inside;
  };
  auto widest = [&fm](const Ticks& t) {
    double w = 0;
    for (const auto& l : t.labels) w = std::max(w, fm.horizontalAdvance(l));
    return w;
  };

  QCPAxis* xa = plot_->xAxis;
  QCPAxis* ya = plot_->yAxis;
  QCPAxis* ya2 = plot_->yAxis2;
  const bool right = ya2->visible();
  const Ticks xt = ticksOf(xa), yt = ticksOf(ya), y2t = right ? ticksOf(ya2) : Ticks{};

  // Legend entries (the graph the on-screen legend shows for each series), laid out in rows.
  struct Entry {
    const Series* series;
    const QCPGraph* graph;
    QPointF at;
  };
  std::vector<Entry> legend;
  double lx = 10;
  int rows = series_.empty() ? 0 : 1;
  for (const auto& s : series_) {
    const QCPGraph* g = s.smooth->visible() ? s.smooth : s.raw;
    const double w = 22 + fm.horizontalAdvance(g->name()) + 14;
    if (lx + w > W - 10 && lx > 10) lx = 10, ++rows;
    legend.push_back({&s, g, QPointF(lx, rows)});
    lx += w;
  }
  const double legend_h = rows * kRow;

  const QString title = title_->text();
  const double top = title.isEmpty() ? 12 : 36;
  const double left = 10 + (ya->label().isEmpty() ? 0 : 18) + widest(yt) + kTick + 4;
  const double right_margin = right ? 10 + (ya2->label().isEmpty() ? 0 : 18) + widest(y2t) + kTick + 4 : 18;
  const double bottom_margin = kTick + 4 + 13 + (xa->label().isEmpty() ? 0 : 17) + 8 + legend_h + 4;
  const QRectF R(left, top, std::max(40.0, W - left - right_margin), std::max(40.0, H - top - bottom_margin));

  auto px = [&](double x) {
    const QCPRange r = xa->range();
    return R.left() + (x - r.lower) / (r.size() != 0 ? r.size() : 1) * R.width();
  };
  auto py = [&](const QCPAxis* axis, double y) -> double {
    const QCPRange r = axis->range();
    if (!std::isfinite(y)) return std::nan("");
    if (axis->scaleType() == QCPAxis::stLogarithmic) {
      if (y <= 0 || r.lower <= 0 || r.upper <= r.lower) return std::nan("");
      return R.bottom() - std::log(y / r.lower) / std::log(r.upper / r.lower) * R.height();
    }
    return R.bottom() - (y - r.lower) / (r.size() != 0 ? r.size() : 1) * R.height();
  };

  const SvgWriter::Stroke grid{colors.grid, 1, {}}, axis_pen{colors.axis, 1, {}};
  SvgWriter::Font tick_font{kFontPx, false, SvgWriter::Anchor::Middle, 0};
  for (qsizetype i = 0; i < xt.values.size(); ++i) {
    const double x = px(xt.values[i]);
    svg.line({x, R.top()}, {x, R.bottom()}, grid);
    svg.line({x, R.bottom()}, {x, R.bottom() + kTick}, axis_pen);
    svg.text({x, R.bottom() + kTick + 13}, xt.labels[i], colors.text, tick_font);
  }
  tick_font.anchor = SvgWriter::Anchor::End;
  for (qsizetype i = 0; i < yt.values.size(); ++i) {
    const double y = py(ya, yt.values[i]);
    svg.line({R.left(), y}, {R.right(), y}, grid);
    svg.line({R.left() - kTick, y}, {R.left(), y}, axis_pen);
    svg.text({R.left() - kTick - 3, y + 4}, yt.labels[i], colors.text, tick_font);
  }
  tick_font.anchor = SvgWriter::Anchor::Start;
  for (qsizetype i = 0; i < y2t.values.size(); ++i) {
    const double y = py(ya2, y2t.values[i]);
    svg.line({R.right(), y}, {R.right() + kTick, y}, axis_pen);
    svg.text({R.right() + kTick + 3, y + 4}, y2t.labels[i], colors.text, tick_font);
  }
  svg.line(R.bottomLeft(), R.bottomRight(), axis_pen);
  svg.line(R.bottomLeft(), R.topLeft(), axis_pen);
  if (right) svg.line(R.bottomRight(), R.topRight(), axis_pen);
  const SvgWriter::Font label_font{kFontPx, false, SvgWriter::Anchor::Middle, 0};
  if (!xa->label().isEmpty())
    svg.text({R.center().x(), R.bottom() + kTick + 13 + 17}, xa->label(), colors.text, label_font);
  if (!ya->label().isEmpty())
    svg.text({22, R.center().y()}, ya->label(), colors.text,
             {kFontPx, false, SvgWriter::Anchor::Middle, -90});
  if (right && !ya2->label().isEmpty())
    svg.text({W - 22, R.center().y()}, ya2->label(), colors.text,
             {kFontPx, false, SvgWriter::Anchor::Middle, 90});

  // Data, clipped to the axis rectangle: reference line, markers, then each series like on screen.
  svg.beginClip(R);
  std::optional<double> reference_px;
  if (reference_ && reference_y_) {
    reference_px = py(ya, *reference_y_);
    if (std::isfinite(*reference_px))
      svg.line({R.left(), *reference_px}, {R.right(), *reference_px}, strokeOf(reference_->pen()));
  }
  for (const auto& [line, text] : markers_) {
    const double x = px(line->point1->coords().x());
    svg.line({x, R.top()}, {x, R.bottom()}, strokeOf(line->pen()));
  }
  for (const auto& s : series_) {
    const QCPAxis* axis = s.raw->valueAxis();
    if (s.points) {
      const QCPScatterStyle style = s.raw->scatterStyle();
      const SvgWriter::Stroke outline = strokeOf(style.pen());
      for (auto it = s.raw->data()->constBegin(); it != s.raw->data()->constEnd(); ++it) {
        const QPointF c(px(it->key), py(axis, it->value));
        if (std::isfinite(c.y())) svg.polygon(diamond(c, style.size() / 2), style.brush().color(), outline);
      }
      continue;
    }
    for (const QCPGraph* g : {s.raw, s.smooth}) {
      if (!g->visible() || g->data()->isEmpty()) continue;
      QVector<QPointF> points;
      points.reserve(g->data()->size());
      for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it)
        points.push_back(QPointF(px(it->key), py(axis, it->value)));
      svg.polyline(points, strokeOf(g->pen()));
    }
  }
  svg.endClip();
  if (reference_label_ && reference_px && std::isfinite(*reference_px) &&
      R.contains(R.center().x(), *reference_px))
    svg.text({R.right() - 4, *reference_px - 3}, reference_label_->text(), reference_label_->color(),
             {kFontPx, false, SvgWriter::Anchor::End, 0});
  for (const auto& [line, text] : markers_) {
    const double x = px(line->point1->coords().x());
    if (x >= R.left() && x <= R.right())
      svg.text({x + 3, R.top() + 12}, text->text(), text->color(),
               {kFontPx, false, SvgWriter::Anchor::Start, 0});
  }

  // Legend rows under the axes, title on top.
  const double legend_top = H - 4 - legend_h;
  for (const auto& e : legend) {
    const double y = legend_top + (e.at.y() - 1) * kRow + 12;
    const double x = e.at.x();
    if (e.series->points) {
      const QCPScatterStyle style = e.graph->scatterStyle();
      svg.polygon(diamond({x + 9, y - 4}, style.size() / 2), style.brush().color(), strokeOf(style.pen()));
    } else {
      svg.line({x, y - 4}, {x + 18, y - 4}, strokeOf(e.graph->pen()));
    }
    svg.text({x + 22, y}, e.graph->name(), colors.text, {kFontPx, false, SvgWriter::Anchor::Start, 0});
  }
  if (!title.isEmpty()) svg.text({10, 22}, title, colors.text, {kTitlePx, true, SvgWriter::Anchor::Start, 0});
  return svg.save(path);
}

void MetricPlot::showContextMenu(const QPoint& pos) {
  QMenu menu(this);
  menu.addAction(tr("Reset view (double-click)"), this, &MetricPlot::resetView);
  QAction* log = menu.addAction(tr("Log scale (y)"));
  log->setCheckable(true);
  log->setChecked(log_scale_);
  connect(log, &QAction::toggled, this, &MetricPlot::setLogScale);
  QAction* clip = menu.addAction(tr("Ignore outliers (y range 1st–99th percentile)"));
  clip->setCheckable(true);
  clip->setChecked(clip_outliers_);
  connect(clip, &QAction::toggled, this, &MetricPlot::setClipOutliers);
  menu.addSeparator();
  menu.addAction(tr("Save as PNG…"), this, [this] {
    const QString path = QFileDialog::getSaveFileName(this, tr("Save plot"), title_->text() + ".png",
                                                      tr("PNG images (*.png)"));
    if (!path.isEmpty()) savePng(path);
  });
  menu.addAction(tr("Export SVG…"), this, [this] {
    const QString path = QFileDialog::getSaveFileName(this, tr("Export plot as SVG"), title_->text() + ".svg",
                                                      tr("SVG images (*.svg)"));
    if (!path.isEmpty()) saveSvg(path, std::max(plot_->width(), 480), std::max(plot_->height() + 40, 300));
  });
  menu.addAction(tr("Save data as CSV…"), this, [this] {
    const QString path = QFileDialog::getSaveFileName(this, tr("Save plot data"), objectName() + ".csv",
                                                      tr("CSV files (*.csv)"));
    if (!path.isEmpty()) saveCsv(path);
  });
  menu.exec(plot_->mapToGlobal(pos));
}

}  // namespace dpo::widgets
