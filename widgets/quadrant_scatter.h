#pragma once
#include <QFrame>
#include <QVector>

#include <optional>

#include <vector>

#include "widgets/core_records.h"

class QCustomPlot;
class QCPGraph;
class QCPItemEllipse;
class QCPBars;
class QCPItemStraightLine;
class QMouseEvent;

namespace dpo::widgets {

// Every eval pair as a point (a, b) = (Δlog π(chosen), Δlog π(rejected)): the "why did chosen go
// down?" view. Below the diagonal a = b the pair is ranked correctly. Clicking a point selects it.
class QuadrantScatter : public QFrame {
  Q_OBJECT

 public:
  explicit QuadrantScatter(QWidget* parent = nullptr);
  ~QuadrantScatter() override;

  void setPairs(const std::vector<dpo::PairRecord>& pairs);
  void setSelectedLine(std::optional<qint64> line);
  int pointCount() const { return static_cast<int>(pairs_.size()); }
  // A pair's point in canvas() coordinates (lays the plot out first), for clicks in tests.
  std::optional<QPoint> pointPosition(qint64 line);
  QWidget* canvas() const;  // the plot surface that takes the clicks
  QCustomPlot* plot() const { return plot_; }

 Q_SIGNALS:
  void pairClicked(qint64 line);

 private:
  void onPress(QMouseEvent* event);
  void rescale();

  QCustomPlot* plot_ = nullptr;
  QCPGraph* correct_ = nullptr;
  QCPGraph* misranked_ = nullptr;
  QCPItemEllipse* ring_ = nullptr;
  std::vector<dpo::PairRecord> pairs_;
  std::optional<qint64> selected_;
};

// Histogram of the latest eval margins β·(a − b): one hump is healthy, two humps hint at noisy
// labels (seed 002 §10). The selected pair is marked.
class MarginHistogram : public QFrame {
  Q_OBJECT

 public:
  explicit MarginHistogram(QWidget* parent = nullptr);
  ~MarginHistogram() override;

  void setMargins(const QVector<double>& margins);
  void setMarked(std::optional<double> margin);
  QVector<int> counts() const { return counts_; }  // per bin, left to right
  QCustomPlot* plot() const { return plot_; }

 private:
  QCustomPlot* plot_ = nullptr;
  QVector<int> counts_;
  QCPBars* below_ = nullptr;
  QCPBars* above_ = nullptr;
  QCPItemStraightLine* mark_ = nullptr;
};

}  // namespace dpo::widgets
