#pragma once
#include <QColor>
#include <QFrame>
#include <QPointF>
#include <QString>
#include <QTimer>
#include <QVector>

#include <optional>
#include <utility>
#include <vector>

#include "widgets/smoothing.h"

class QCustomPlot;
class QCPGraph;
class QCPItemStraightLine;
class QCPItemText;
class QLabel;
class QMouseEvent;

namespace dpo::widgets {

// A titled QCustomPlot for metric series that arrive one point at a time. addPoint() only
// buffers; a 40 ms timer redraws at most once per tick while something is pending, so a burst
// of samples costs one replot (PlotJuggler's habit). Each series is drawn raw and faint, with a
// debiased-EMA line on top (TensorBoard's smoothing). Hover shows exact values; drag pans, the
// wheel zooms, double-click resets; the context menu toggles a log y axis and outlier clipping
// and exports PNG/SVG/CSV. Points are keyed by step; the x axis can show step, tokens or time
// through a step → x table (addXSample). Colours follow the widget's palette (light or dark).
class MetricPlot : public QFrame {
  Q_OBJECT

 public:
  enum class Axis { Left, Right };
  // What the x axis shows: the step itself, or the cumulative tokens / seconds at that step.
  enum class XAxis { Step, Tokens, Seconds };

  explicit MetricPlot(QWidget* parent = nullptr);
  ~MetricPlot() override;

  void setTitle(const QString& title);
  void setCaption(const QString& caption);  // one line: what good looks like
  void setCaptionVisible(bool on);          // off for a projector, where the room is the plot's
  void setAxisLabels(const QString& x, const QString& y, const QString& y_right = {});
  // Shorter y titles, drawn when the full ones would not fit along a short axis (a laptop screen).
  void setShortAxisLabels(const QString& y, const QString& y_right = {});
  // Legend entries and axis titles the last layout could not show whole (clipped by the widget or
  // squeezed below their text's width); empty when everything fits. For the tests of every size.
  QStringList cutTexts() const;
  // Fixed range of the right axis (e.g. 0..1 for an accuracy); otherwise it autoscales.
  void setRightAxisRange(double lower, double upper);
  void setReferenceLine(double y, const QString& label = {});

  // Returns the series index used by addPoint().
  int addSeries(const QString& name, const QColor& color, Axis axis = Axis::Left, bool dashed = false);
  // A series drawn as markers only and never smoothed: sparse points such as evaluations over
  // the per-step curves.
  int addPointSeries(const QString& name, const QColor& color, Axis axis = Axis::Left);
  bool isPointSeries(int series) const;
  void addPoint(int series, double x, double y);
  // A vertical line at x with a short label at the top (a β or learning-rate change).
  void addMarker(double x, const QString& label);  // x is a step, mapped like the points
  int markerCount() const { return static_cast<int>(markers_.size()); }
  void clear();  // points, markers and the x table (a new run)

  // One row of the step → x table, once per training step: cumulative tokens and elapsed
  // seconds at `step` (both made non-decreasing). Points map by linear interpolation between
  // known steps, to 0 before the first row and to the last row's value after the last one
  // (remapped when later rows arrive). Cheap: a binary search per point, redraw coalesced.
  void addXSample(double step, double tokens, double seconds);
  // Redraws every series, eval points and marker at the mapped x and relabels the axis
  // ("step" = the label of setAxisLabels, "tokens", "time (s)"); hover still names the step.
  void setXAxis(XAxis axis);
  XAxis xAxis() const { return x_axis_; }
  double mapStep(double step) const;  // the drawn x of a step under the current XAxis

  // Like W&B's "ignore outliers": each y axis autoscales to the 1st–99th percentile of the raw
  // values (at least the single most extreme value per end from 10 points on), so one loss spike
  // does not flatten the curve. Points outside stay drawn, just off the axis range.
  void setClipOutliers(bool on);
  bool clipOutliers() const { return clip_outliers_; }

  // 0 = off; otherwise the EMA weight of the past (TensorBoard's slider), debiased at the start.
  void setSmoothing(double weight);
  void setSeriesSmoothed(int series, bool on);  // e.g. off for a cumulative count
  double smoothing() const { return smoothing_; }
  QVector<double> smoothedValues(int series) const;  // the drawn smoothed line (empty when off)

  // Logarithmic left axis; values ≤ 0 are not drawn while it is on.
  void setLogScale(bool on);
  bool logScale() const { return log_scale_; }
  void resetView();  // back to autoscaling (double-click)

  // The hover text for the point nearest to drawn x: "step 12" (+ " · tokens 1200" when the x axis
  // is mapped), then "name: value (smoothed s)" per series.
  QString valuesText(double x) const;
  QColor textColor() const;  // axis label / tick label colour in use (the palette's WindowText)

  int seriesCount() const { return static_cast<int>(series_.size()); }
  int pointCount(int series) const;                // buffered + drawn
  int drawnPointCount(int series) const;           // handed to the plot by the last redraw
  QVector<QPointF> drawnPoints(int series) const;  // (drawn x, raw y) of the last redraw, step order
  std::pair<double, double> yRange(Axis axis = Axis::Left) const;  // (lower, upper) shown now
  int replotCount() const { return replots_; }
  QString title() const;

  // Draws pending points now (before grabbing the widget, for instance).
  void flush();
  // width/height in logical px (0 = the widget's); scale = device pixel ratio of the image, so
  // scale 2 gives a crisp (2·width)×(2·height) image with text and lines drawn at that resolution.
  bool savePng(const QString& path, int width = 0, int height = 0, double scale = 2.0);
  // One row per step: step (and the mapped x when the x axis is not the step), then each series
  // (and its smoothed value when smoothing is on).
  bool saveCsv(const QString& path);
  // Vector export without Qt SVG: title, axes with ticks and labels, grid, raw series faint,
  // smoothed lines, point series as diamonds, reference line, markers and legend, in px.
  bool saveSvg(const QString& path, int width = 800, int height = 500);

  QCustomPlot* plot() const { return plot_; }

 private:
  struct Series {
    QCPGraph* raw = nullptr;
    QCPGraph* smooth = nullptr;
    QVector<double> pending_x, pending_y;  // steps, values not drawn yet
    QVector<double> steps, values;         // drawn, ascending step; graph data index i ↔ steps[i]
    int drawn = 0;
    bool smoothed = true;
    bool points = false;
    DebiasedEma ema;
  };

  void onTick();
  void appendSmoothed(Series& s, const QVector<double>& xs, const QVector<double>& ys);
  void rebuildSmoothed();
  void rescale();
  void showContextMenu(const QPoint& pos);
  void showValuesAt(QMouseEvent* event);
  std::optional<double> nearestStep(double x) const;
  int indexOfStep(const Series& s, double step) const;
  void remap(double after_step);  // re-keys drawn points (and markers) with step > after_step
  void applyPalette();
  void scheduleRedraw();
  void fitLegend();      // before a replot: as many legend columns as whole entries fit in a row
  void fitAxisTitles();  // after the layout: the full or the short title, whichever fits

 protected:
  void changeEvent(QEvent* event) override;

 private:
  struct XSample {
    double step, tokens, seconds;
  };

  QLabel* title_ = nullptr;
  QLabel* caption_ = nullptr;
  QCustomPlot* plot_ = nullptr;
  QCPItemStraightLine* reference_ = nullptr;
  QCPItemText* reference_label_ = nullptr;
  std::optional<double> reference_y_;
  std::optional<std::pair<double, double>> right_range_;
  std::vector<Series> series_;
  std::vector<std::pair<QCPItemStraightLine*, QCPItemText*>> markers_;
  std::vector<double> marker_steps_;
  std::vector<XSample> x_table_;  // ascending step
  XAxis x_axis_ = XAxis::Step;
  QString step_label_;
  QString y_label_, y_right_label_, y_short_, y_right_short_;
  double mapped_upto_ = -1e300;  // points at steps ≤ this have their final x
  bool remap_all_ = false;
  bool clip_outliers_ = false;
  QTimer timer_;
  bool dirty_ = false;
  bool auto_range_ = true;
  bool log_scale_ = false;
  double smoothing_ = 0.0;
  int replots_ = 0;
};

}  // namespace dpo::widgets
