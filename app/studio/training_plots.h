#pragma once
#include <QList>
#include <QWidget>

#include "widgets/core_records.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QSettings;
class QSlider;

namespace dpo::widgets {
class MetricPlot;
}

namespace dpo::studio {

// The Training tab: the four plots of the preference signal under one toolbar (smoothing, x axis,
// outliers), plus the optimiser plot that the window shows on its own tab. Draws what it is given
// (addStep, addEval, addEvent); knows nothing of runs.
class TrainingPlots : public QWidget {
  Q_OBJECT

 public:
  explicit TrainingPlots(QWidget* parent = nullptr);

  void addStep(const StepMetrics& m);
  void addEval(const PreferenceEval& e);
  void addMarker(double x, const QString& label);  // on every plot: a β or learning-rate change
  void clear();
  void flush();  // draw what is queued now (the plots redraw at most every ~40 ms by themselves)
  void savePngs(const QString& dir) const;
  void loadSettings(const QSettings& settings);
  void saveSettings(QSettings& settings) const;

  widgets::MetricPlot* rewardMarginPlot() const { return margin_plot_; }
  widgets::MetricPlot* logRatioPlot() const { return logratio_plot_; }
  widgets::MetricPlot* lossPlot() const { return loss_plot_; }
  widgets::MetricPlot* lengthPlot() const { return length_plot_; }
  widgets::MetricPlot* optimiserPlot() const { return optimiser_plot_; }  // not a child: the window's tab
  QList<widgets::MetricPlot*> plots() const;
  QSlider* smoothingSlider() const { return smoothing_slider_; }  // 0–99: EMA weight × 100, all plots
  QComboBox* xAxisCombo() const { return x_axis_combo_; }
  QCheckBox* clipOutliersCheck() const { return clip_check_; }

 Q_SIGNALS:
  void smoothingChanged(double weight);

 private:
  QWidget* buildToolbar();
  void setSmoothing(int percent);

  widgets::MetricPlot* margin_plot_ = nullptr;
  widgets::MetricPlot* logratio_plot_ = nullptr;
  widgets::MetricPlot* length_plot_ = nullptr;
  widgets::MetricPlot* loss_plot_ = nullptr;
  widgets::MetricPlot* optimiser_plot_ = nullptr;  // grad norm and learning rate
  QSlider* smoothing_slider_ = nullptr;
  QLabel* smoothing_value_ = nullptr;
  QComboBox* x_axis_combo_ = nullptr;  // step / tokens / time
  QCheckBox* clip_check_ = nullptr;    // ignore outliers in the y autoscale
  // point series of the evaluations
  int eval_margin_ = -1, eval_accuracy_ = -1, eval_chosen_ = -1, eval_rejected_ = -1, eval_loss_ = -1,
      sampled_length_ = -1, sampled_kl_ = -1;
};

}  // namespace dpo::studio
