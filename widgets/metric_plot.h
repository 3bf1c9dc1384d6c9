#pragma once
#include <QColor>
#include <QFrame>
#include <QString>
#include <QTimer>
#include <QVector>

#include <optional>
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
// wheel zooms, double-click resets; the context menu toggles a log y axis and exports PNG/CSV.
class MetricPlot : public QFrame {
  Q_OBJECT

 public:
  enum class Axis { Left, Right };

  explicit MetricPlot(QWidget* parent = nullptr);
  ~MetricPlot() override;

  void setTitle(const QString& title);
  void setCaption(const QString& caption);  // one line: what good looks like
  void setAxisLabels(const QString& x, const QString& y, const QString& y_right = {});
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
  void addMarker(double x, const QString& label);
  int markerCount() const { return static_cast<int>(markers_.size()); }
  void clear();

  // 0 = off; otherwise the EMA weight of the past (TensorBoard's slider), debiased at the start.
  void setSmoothing(double weight);
  void setSeriesSmoothed(int series, bool on);  // e.g. off for a cumulative count
  double smoothing() const { return smoothing_; }
  QVector<double> smoothedValues(int series) const;  // the drawn smoothed line (empty when off)

  // Logarithmic left axis; values ≤ 0 are not drawn while it is on.
  void setLogScale(bool on);
  bool logScale() const { return log_scale_; }
  void resetView();  // back to autoscaling (double-click)

  // The hover text for the step nearest to x: "step 12" then "name: value (smoothed s)" per series.
  QString valuesText(double x) const;

  int seriesCount() const { return static_cast<int>(series_.size()); }
  int pointCount(int series) const;  // buffered + drawn
  int drawnPointCount(int series) const;  // handed to the plot by the last redraw
  int replotCount() const { return replots_; }
  QString title() const;

  // Draws pending points now (before grabbing the widget, for instance).
  void flush();
  bool savePng(const QString& path, int width = 0, int height = 0);
  // One row per x: x, then each series (and its smoothed value when smoothing is on).
  bool saveCsv(const QString& path);

  QCustomPlot* plot() const { return plot_; }

 private:
  struct Series {
    QCPGraph* raw = nullptr;
    QCPGraph* smooth = nullptr;
    QVector<double> pending_x, pending_y;
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
  std::optional<double> nearestKey(double x) const;

  QLabel* title_ = nullptr;
  QLabel* caption_ = nullptr;
  QCustomPlot* plot_ = nullptr;
  QCPItemStraightLine* reference_ = nullptr;
  QCPItemText* reference_label_ = nullptr;
  std::optional<double> reference_y_;
  std::optional<std::pair<double, double>> right_range_;
  std::vector<Series> series_;
  std::vector<std::pair<QCPItemStraightLine*, QCPItemText*>> markers_;
  QTimer timer_;
  bool dirty_ = false;
  bool auto_range_ = true;
  bool log_scale_ = false;
  double smoothing_ = 0.0;
  int replots_ = 0;
};

}  // namespace dpo::widgets
