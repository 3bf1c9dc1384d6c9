#include "app/studio/training_plots.h"

#include <QCheckBox>
#include <QComboBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QSettings>
#include <QSlider>
#include <QVBoxLayout>

#include <cmath>

#include "widgets/metric_plot.h"

namespace dpo::studio {

namespace {
// Okabe–Ito colours: distinguishable with the common colour-vision deficiencies.
const QColor kChosen(0x00, 0x72, 0xB2);    // blue
const QColor kRejected(0xD5, 0x5E, 0x00);  // vermillion
const QColor kMargin(0x00, 0x9E, 0x73);    // bluish green
const QColor kAccent(0x88, 0x88, 0x88);    // grey, secondary series
const QColor kLoss(0xCC, 0x79, 0xA7);      // reddish purple
}  // namespace

TrainingPlots::TrainingPlots(QWidget* parent) : QWidget(parent) {
  using widgets::MetricPlot;
  auto* outer = new QVBoxLayout(this);
  outer->setContentsMargins(4, 6, 8, 4);
  outer->setSpacing(4);
  outer->addWidget(buildToolbar());
  auto* grid = new QGridLayout;
  grid->setContentsMargins(0, 0, 0, 0);
  grid->setSpacing(8);
  outer->addLayout(grid, 1);

  margin_plot_ = new MetricPlot(this);
  margin_plot_->setObjectName("rewardMarginPlot");
  margin_plot_->setTitle(tr("Implicit reward margin (rewards/margins)"));
  margin_plot_->setCaption(
      tr("Good: rises above 0 and keeps rising; accuracy (right axis) climbs toward 1."));
  margin_plot_->setAxisLabels(tr("step"), tr("β·(chosen − rejected log-ratio) [nats]"),
                              tr("accuracy [share of pairs]"));
  margin_plot_->setShortAxisLabels(tr("margin [nats]"), tr("accuracy"));
  margin_plot_->addSeries(tr("margin"), kMargin);
  margin_plot_->addSeries(tr("accuracy"), kAccent, MetricPlot::Axis::Right, true);
  eval_margin_ = margin_plot_->addPointSeries(tr("eval margin"), kMargin.darker(140));
  eval_accuracy_ =
      margin_plot_->addPointSeries(tr("eval accuracy"), kAccent.darker(140), MetricPlot::Axis::Right);
  margin_plot_->setRightAxisRange(0.0, 1.05);
  margin_plot_->setReferenceLine(0.0, tr("zero margin"));

  logratio_plot_ = new MetricPlot(this);
  logratio_plot_->setObjectName("logRatioPlot");
  logratio_plot_->setTitle(tr("Chosen vs rejected log-ratio"));
  logratio_plot_->setCaption(
      tr("Good: both start at 0; chosen stays ≥ rejected; both falling together hints β too low."));
  logratio_plot_->setToolTip(
      tr("Sequence log-probabilities, summed over the response tokens; the plotted values are "
         "rewards/chosen and rewards/rejected divided by β."));
  logratio_plot_->setAxisLabels(tr("step"), tr("log π(y|x) − log π_ref(y|x) [nats]"));
  logratio_plot_->setShortAxisLabels(tr("log-ratio [nats]"));
  logratio_plot_->addSeries(tr("chosen"), kChosen);
  logratio_plot_->addSeries(tr("rejected"), kRejected);
  eval_chosen_ = logratio_plot_->addPointSeries(tr("eval chosen"), kChosen.darker(130));
  eval_rejected_ = logratio_plot_->addPointSeries(tr("eval rejected"), kRejected.darker(130));
  // The mean log-ratio of the policy's own samples: an estimate of KL(π‖π_ref), ≥ 0 in expectation.
  sampled_kl_ = logratio_plot_->addPointSeries(tr("sampled KL(π‖π_ref)"), QColor(0x6a, 0x3d, 0x9a));
  logratio_plot_->setReferenceLine(0.0, tr("reference policy"));

  loss_plot_ = new MetricPlot(this);
  loss_plot_->setObjectName("lossPlot");
  loss_plot_->setTitle(tr("Loss"));
  loss_plot_->setCaption(tr("Good: starts at ln 2 ≈ 0.693 (policy = reference) and falls."));
  loss_plot_->setAxisLabels(tr("step"), tr("loss [nats]"));
  loss_plot_->addSeries(tr("loss"), kLoss);
  eval_loss_ = loss_plot_->addPointSeries(tr("eval loss"), kLoss.darker(150));
  loss_plot_->setReferenceLine(0.69314718, tr("ln 2"));

  length_plot_ = new MetricPlot(this);
  length_plot_->setObjectName("lengthPlot");
  length_plot_->setTitle(tr("Response length per batch"));
  length_plot_->setCaption(
      tr("Chosen much longer than rejected teaches “longer is better”; watch the sampled length."));
  length_plot_->setAxisLabels(tr("step"), tr("mean response length [tokens]"),
                              tr("tokens processed (cumulative)"));
  length_plot_->setShortAxisLabels(tr("length [tokens]"), tr("tokens seen"));
  length_plot_->addSeries(tr("chosen"), kChosen);
  length_plot_->addSeries(tr("rejected"), kRejected);
  length_plot_->addSeries(tr("tokens seen"), kAccent, MetricPlot::Axis::Right, true);
  sampled_length_ = length_plot_->addPointSeries(tr("sampled at eval"), QColor(0x00, 0x9E, 0x73));
  length_plot_->setSeriesSmoothed(2, false);

  // The optimiser's view of the run, not the preference signal: the window gives it its own tab.
  optimiser_plot_ = new MetricPlot;
  optimiser_plot_->setObjectName("optimiserPlot");
  optimiser_plot_->setTitle(tr("Gradient norm and learning rate"));
  optimiser_plot_->setCaption(
      tr("Good: the norm settles after the first steps; spikes with loss spikes mean the "
         "learning rate is too high (clipping reports the norm before clipping)."));
  optimiser_plot_->setAxisLabels(tr("step"), tr("gradient norm (pre-clip)"), tr("learning rate"));
  optimiser_plot_->addSeries(tr("grad norm"), kLoss);
  optimiser_plot_->addSeries(tr("learning rate"), kAccent, MetricPlot::Axis::Right, true);
  optimiser_plot_->setSeriesSmoothed(1, false);
  setSmoothing(smoothing_slider_->value());

  grid->addWidget(margin_plot_, 0, 0);
  grid->addWidget(logratio_plot_, 0, 1);
  grid->addWidget(loss_plot_, 1, 0);
  grid->addWidget(length_plot_, 1, 1);
  grid->setColumnStretch(0, 1);
  grid->setColumnStretch(1, 1);
  grid->setRowStretch(0, 1);
  grid->setRowStretch(1, 1);
}

QWidget* TrainingPlots::buildToolbar() {
  auto* bar = new QWidget(this);
  auto* row = new QHBoxLayout(bar);
  row->setContentsMargins(4, 0, 0, 0);
  auto* label = new QLabel(tr("Smoothing"), bar);
  smoothing_slider_ = new QSlider(Qt::Horizontal, bar);
  smoothing_slider_->setObjectName("smoothingSlider");
  smoothing_slider_->setRange(0, 99);
  smoothing_slider_->setValue(60);
  smoothing_slider_->setFixedWidth(160);
  smoothing_slider_->setToolTip(
      tr("Weight of the past in the exponential moving average drawn over each raw "
         "series (TensorBoard's smoothing, debiased at the start). 0 = raw only."));
  smoothing_value_ = new QLabel(bar);
  smoothing_value_->setMinimumWidth(32);
  connect(smoothing_slider_, &QSlider::valueChanged, this, &TrainingPlots::setSmoothing);
  row->addWidget(label);
  row->addWidget(smoothing_slider_);
  row->addWidget(smoothing_value_);
  x_axis_combo_ = new QComboBox(bar);
  x_axis_combo_->setObjectName("xAxisCombo");
  x_axis_combo_->addItem(tr("x: step"), static_cast<int>(widgets::MetricPlot::XAxis::Step));
  x_axis_combo_->addItem(tr("x: tokens"), static_cast<int>(widgets::MetricPlot::XAxis::Tokens));
  x_axis_combo_->addItem(tr("x: time"), static_cast<int>(widgets::MetricPlot::XAxis::Seconds));
  x_axis_combo_->setToolTip(
      tr("Draw every plot against the optimizer step, the tokens trained on, or the seconds "
         "since the run started (compare runs of different batch sizes or speeds)"));
  connect(x_axis_combo_, &QComboBox::currentIndexChanged, this, [this] {
    const auto axis = static_cast<widgets::MetricPlot::XAxis>(x_axis_combo_->currentData().toInt());
    for (auto* plot : plots()) plot->setXAxis(axis);
  });
  clip_check_ = new QCheckBox(tr("Ignore outliers"), bar);
  clip_check_->setObjectName("clipOutliersCheck");
  clip_check_->setToolTip(
      tr("Scale the y axes to the 1st–99th percentile, so one spike does not flatten the curves "
         "(the spike is still drawn)"));
  connect(clip_check_, &QCheckBox::toggled, this, [this](bool on) {
    for (auto* plot : plots()) plot->setClipOutliers(on);
  });
  row->addSpacing(12);
  row->addWidget(x_axis_combo_);
  row->addWidget(clip_check_);
  auto* help = new QLabel(tr("faint: raw per step · solid: smoothed"), bar);
  help->setStyleSheet("color: #7a8594;");
  help->setWordWrap(true);  // two short lines on a narrow screen: neither cut nor widening the window
  help->setAlignment(Qt::AlignRight | Qt::AlignVCenter);
  row->addWidget(help, 1);
  return bar;
}

void TrainingPlots::setSmoothing(int percent) {
  smoothing_value_->setText(QString::number(percent / 100.0, 'f', 2));
  for (auto* plot : plots()) plot->setSmoothing(percent / 100.0);
  Q_EMIT smoothingChanged(percent / 100.0);
}

QList<widgets::MetricPlot*> TrainingPlots::plots() const {
  return {margin_plot_, logratio_plot_, loss_plot_, length_plot_, optimiser_plot_};
}

void TrainingPlots::addStep(const StepMetrics& r) {
  const double x = static_cast<double>(r.step);
  for (auto* plot : plots()) plot->addXSample(x, static_cast<double>(r.tokens), r.elapsed_seconds);
  margin_plot_->addPoint(0, x, r.rewards_margins);
  margin_plot_->addPoint(1, x, r.rewards_accuracies);
  logratio_plot_->addPoint(0, x, r.logratio_chosen());
  logratio_plot_->addPoint(1, x, r.logratio_rejected());
  loss_plot_->addPoint(0, x, r.loss);
  length_plot_->addPoint(0, x, r.length_chosen);
  length_plot_->addPoint(1, x, r.length_rejected);
  length_plot_->addPoint(2, x, static_cast<double>(r.tokens));
  optimiser_plot_->addPoint(0, x, r.grad_norm);
  optimiser_plot_->addPoint(1, x, r.learning_rate);
}

void TrainingPlots::addEval(const PreferenceEval& e) {
  const double x = static_cast<double>(e.step);
  margin_plot_->addPoint(eval_margin_, x, e.mean_margin);
  margin_plot_->addPoint(eval_accuracy_, x, e.accuracy);
  if (e.beta > 0) {
    logratio_plot_->addPoint(eval_chosen_, x, e.rewards_chosen / e.beta);
    logratio_plot_->addPoint(eval_rejected_, x, e.rewards_rejected / e.beta);
  }
  loss_plot_->addPoint(eval_loss_, x, e.mean_loss);
  if (std::isfinite(e.sampled_length)) length_plot_->addPoint(sampled_length_, x, e.sampled_length);
  if (std::isfinite(e.sampled_kl)) logratio_plot_->addPoint(sampled_kl_, x, e.sampled_kl);
}

void TrainingPlots::addMarker(double x, const QString& label) {
  for (auto* plot : plots()) plot->addMarker(x, label);
}

void TrainingPlots::clear() {
  for (auto* plot : plots()) plot->clear();
}

void TrainingPlots::flush() {
  for (auto* plot : plots()) plot->flush();
}

void TrainingPlots::savePngs(const QString& dir) const {
  for (auto* plot : plots()) plot->savePng(dir + "/" + plot->objectName() + ".png");
}

void TrainingPlots::loadSettings(const QSettings& s) {
  smoothing_slider_->setValue(s.value(QStringLiteral("view/smoothing"), smoothing_slider_->value()).toInt());
  const int x = x_axis_combo_->findData(s.value(QStringLiteral("view/x_axis"), x_axis_combo_->currentData()));
  if (x >= 0) x_axis_combo_->setCurrentIndex(x);
  clip_check_->setChecked(s.value(QStringLiteral("view/clip_outliers"), false).toBool());
}

void TrainingPlots::saveSettings(QSettings& s) const {
  s.setValue(QStringLiteral("view/smoothing"), smoothing_slider_->value());
  s.setValue(QStringLiteral("view/x_axis"), x_axis_combo_->currentData());
  s.setValue(QStringLiteral("view/clip_outliers"), clip_check_->isChecked());
}

}  // namespace dpo::studio
