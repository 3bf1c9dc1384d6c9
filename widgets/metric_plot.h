#pragma once
#include <QColor>
#include <QFrame>
#include <QString>
#include <QTimer>
#include <QVector>

#include <optional>
#include <vector>

class QCustomPlot;
class QCPGraph;
class QCPItemStraightLine;
class QCPItemText;
class QLabel;

namespace dpo::widgets {

// A titled QCustomPlot for metric series that arrive one point at a time. addPoint() only
// buffers; a 40 ms timer redraws at most once per tick while something is pending, so a burst
// of samples costs one replot (PlotJuggler's habit). Each series is drawn raw and faint, with an
// optional EMA-smoothed line on top.
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
  void addPoint(int series, double x, double y);
  void clear();

  // 0 = off; otherwise the EMA weight of the past (TensorBoard's slider), debiased at the start.
  void setSmoothing(double weight);
  void setSeriesSmoothed(int series, bool on);  // e.g. off for a cumulative count
  double smoothing() const { return smoothing_; }

  int seriesCount() const { return static_cast<int>(series_.size()); }
  int pointCount(int series) const;  // buffered + drawn
  int drawnPointCount(int series) const;  // handed to the plot by the last redraw
  int replotCount() const { return replots_; }
  QString title() const;

  // Draws pending points now (before grabbing the widget, for instance).
  void flush();
  bool savePng(const QString& path, int width = 0, int height = 0);

  QCustomPlot* plot() const { return plot_; }

 private:
  struct Series {
    QCPGraph* raw = nullptr;
    QCPGraph* smooth = nullptr;
    QVector<double> pending_x, pending_y;
    int drawn = 0;
    bool smoothed = true;
    double ema = 0;
    int ema_count = 0;
  };

  void onTick();
  void appendSmoothed(Series& s, const QVector<double>& xs, const QVector<double>& ys);
  void rebuildSmoothed();
  void rescale();
  void showContextMenu(const QPoint& pos);

  QLabel* title_ = nullptr;
  QLabel* caption_ = nullptr;
  QCustomPlot* plot_ = nullptr;
  QCPItemStraightLine* reference_ = nullptr;
  QCPItemText* reference_label_ = nullptr;
  std::optional<double> reference_y_;
  std::optional<std::pair<double, double>> right_range_;
  std::vector<Series> series_;
  QTimer timer_;
  bool dirty_ = false;
  bool auto_range_ = true;
  double smoothing_ = 0.0;
  int replots_ = 0;
};

}  // namespace dpo::widgets
