#include "app/studio/runs_browser.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QSlider>
#include <QVBoxLayout>

#include <optional>
#include <utility>
#include <vector>

#include "app/studio/run_catalog.h"
#include "widgets/metric_plot.h"
#include "widgets/runs_panel.h"

namespace dpo::studio {

namespace {
// Okabe–Ito, one colour per compared run.
const QColor kRunColours[] = {QColor(0x00, 0x72, 0xB2), QColor(0xD5, 0x5E, 0x00), QColor(0x00, 0x9E, 0x73),
                              QColor(0xCC, 0x79, 0xA7), QColor(0xE6, 0x9F, 0x00), QColor(0x56, 0xB4, 0xE9),
                              QColor(0x00, 0x00, 0x00), QColor(0xF0, 0xE4, 0x42)};
}  // namespace

RunsBrowser::RunsBrowser(QObject* parent) : QObject(parent), runs_root_(defaultRunsRoot()) {
  panel_ = new widgets::RunsPanel;
  panel_->setObjectName("runsPanel");
  connect(panel_, &widgets::RunsPanel::runActivated, this, &RunsBrowser::viewRequested);
  connect(panel_, &widgets::RunsPanel::compareChanged, this, [this](const QStringList& dirs) {
    if (syncing_) return;
    setCompareRuns(dirs);
    if (!dirs.isEmpty()) Q_EMIT compareShown();
  });
  connect(panel_, &widgets::RunsPanel::openRequested, this, &RunsBrowser::openRequested);
  connect(panel_, &widgets::RunsPanel::refreshRequested, this, &RunsBrowser::refresh);

  compare_tab_ = new QWidget;
  compare_tab_->setObjectName("compareTab");
  auto* outer = new QVBoxLayout(compare_tab_);
  outer->setContentsMargins(4, 6, 8, 4);
  // The Training tab's controls: smoothing, what the x axis counts, outliers.
  compare_bar_ = new QWidget(compare_tab_);
  auto* bar = new QHBoxLayout(compare_bar_);
  bar->setContentsMargins(4, 0, 0, 0);
  bar->addWidget(new QLabel(tr("Smoothing"), compare_bar_));
  compare_smoothing_ = new QSlider(Qt::Horizontal, compare_bar_);
  compare_smoothing_->setObjectName("compareSmoothingSlider");
  compare_smoothing_->setRange(0, 99);
  compare_smoothing_->setValue(qRound(smoothing_ * 100));
  compare_smoothing_->setFixedWidth(140);
  bar->addWidget(compare_smoothing_);
  compare_x_ = new QComboBox(compare_bar_);
  compare_x_->setObjectName("compareXAxisCombo");
  compare_x_->addItem(tr("x: step"));
  compare_x_->addItem(tr("x: tokens"));
  compare_x_->addItem(tr("x: time"));
  compare_x_->setToolTip(tr("Runs with different batch sizes compare fairly by tokens seen or by time"));
  bar->addWidget(compare_x_);
  compare_outliers_ = new QCheckBox(tr("Ignore outliers"), compare_bar_);
  compare_outliers_->setObjectName("compareOutliersCheck");
  bar->addWidget(compare_outliers_);
  bar->addStretch(1);
  outer->addWidget(compare_bar_);
  connect(compare_smoothing_, &QSlider::valueChanged, this, [this](int v) {
    smoothing_ = v / 100.0;
    for (auto* plot : std::as_const(compare_plots_)) plot->setSmoothing(smoothing_);
  });
  connect(compare_x_, &QComboBox::currentIndexChanged, this, [this] { rebuildComparePlots(); });
  connect(compare_outliers_, &QCheckBox::toggled, this, [this](bool on) {
    for (auto* plot : std::as_const(compare_plots_)) plot->setClipOutliers(on);
  });
  compare_note_ = new QLabel(compare_tab_);
  compare_note_->setObjectName("compareNote");
  compare_note_->setWordWrap(true);
  compare_note_->setStyleSheet("color: #5f6b7a;");
  outer->addWidget(compare_note_);
  compare_area_ = new QWidget(compare_tab_);
  auto* grid = new QGridLayout(compare_area_);
  grid->setContentsMargins(0, 0, 0, 0);
  grid->setSpacing(8);
  outer->addWidget(compare_area_, 1);
  // Nothing ticked: a message in the middle of the tab, not a strip of empty axes.
  compare_empty_ = new QLabel(
      tr("<p style='font-size:large'><b>Nothing to compare yet</b></p><p>Tick two or more runs in the "
         "<b>Runs</b> list (View ▸ Runs) to overlay their margin, accuracy, loss and chosen log-ratio "
         "here: one colour per run, each named by the settings in which the runs differ.</p>"),
      compare_tab_);
  compare_empty_->setObjectName("compareEmpty");
  compare_empty_->setWordWrap(true);
  compare_empty_->setAlignment(Qt::AlignCenter);
  outer->addWidget(compare_empty_, 1);
  rebuildComparePlots();
  refresh();
}

void RunsBrowser::setRunsRoot(const QString& root) {
  runs_root_ = root;
  refresh();
}

void RunsBrowser::addOpened(const QString& dir) {
  if (!opened_runs_.contains(dir)) opened_runs_.push_back(dir);
  refresh();
}

void RunsBrowser::refresh() {
  QList<widgets::RunSummary> runs = listRuns(runs_root_);
  QStringList listed;
  for (const auto& run : runs) listed.push_back(run.dir);
  for (const auto& dir : std::as_const(opened_runs_))
    if (!listed.contains(dir) && QFileInfo::exists(dir + "/config.json")) runs.push_back(summarizeRun(dir));
  syncing_ = true;
  panel_->setRuns(runs);
  syncing_ = false;
  panel_->setRootText(tr("Runs folder: %1").arg(runs_root_));
  for (const auto& run : runs)
    if (run.dir == viewed_) viewed_summary_ = run;
}

void RunsBrowser::setCurrentRun(const QString& dir) { panel_->setCurrentRun(dir); }

void RunsBrowser::showProgress(const QString& dir, qint64 steps_done, double accuracy, double beta) {
  panel_->showProgress(dir, steps_done, accuracy, beta);
}

void RunsBrowser::setViewed(const QString& dir, const widgets::RunSummary& summary) {
  viewed_ = dir;
  viewed_summary_ = summary;
  panel_->setCurrentRun(dir);
}

void RunsBrowser::setCompareRuns(const QStringList& dirs_in) {
  QStringList dirs;
  for (const auto& d : dirs_in) dirs.push_back(QFileInfo(d).absoluteFilePath());
  bool unlisted = false;
  for (const auto& d : std::as_const(dirs))
    if (panel_->indexOf(d) < 0 && !opened_runs_.contains(d)) {
      opened_runs_.push_back(d);
      unlisted = true;
    }
  if (unlisted) refresh();
  syncing_ = true;
  for (const auto& run : panel_->runs()) panel_->setChecked(run.dir, dirs.contains(run.dir));
  syncing_ = false;
  if (dirs == compare_runs_ && !compare_plots_.isEmpty()) return;
  compare_runs_ = dirs;
  rebuildComparePlots();
}

void RunsBrowser::setSmoothing(double weight) {
  compare_smoothing_->setValue(qRound(weight * 100));  // the Training tab's slider moves this one too
}

void RunsBrowser::rebuildComparePlots() {
  using widgets::MetricPlot;
  qDeleteAll(compare_plots_);
  compare_plots_.clear();
  QList<widgets::RunSummary> summaries;
  std::vector<std::vector<StepMetrics>> metrics;
  QStringList errors;
  for (const auto& dir : std::as_const(compare_runs_)) {
    auto run = loadRunRecords(dir);
    if (!run.error.isEmpty()) errors.push_back(run.error);
    summaries.push_back(run.summary);
    metrics.push_back(std::move(run.metrics));
  }
  compare_labels_ = differingSettingLabels(summaries);

  struct Spec {
    const char* name;
    QString title, caption, y;
    double (*value)(const StepMetrics&);
    std::optional<double> reference;
  };
  const Spec specs[] = {
      {"compareMarginPlot", tr("Implicit reward margin (rewards/margins)"),
       tr("Higher and rising: the runs separate chosen from rejected."), tr("margin [nats]"),
       [](const StepMetrics& r) { return r.rewards_margins; }, 0.0},
      {"compareAccuracyPlot", tr("Preference accuracy (rewards/accuracies)"),
       tr("Share of pairs ranked right in each batch."), tr("accuracy"),
       [](const StepMetrics& r) { return r.rewards_accuracies; }, std::nullopt},
      {"compareLossPlot", tr("Loss"), tr("Starts at ln 2 for DPO; compare how fast each run falls."),
       tr("loss [nats]"), [](const StepMetrics& r) { return r.loss; }, 0.69314718},
      {"compareChosenPlot", tr("Chosen log-ratio"),
       tr("log π − log π_ref of the chosen answers: falling means chosen got less likely."),
       tr("log-ratio [nats]"), [](const StepMetrics& r) { return r.logratio_chosen(); }, 0.0},
  };
  auto* grid = static_cast<QGridLayout*>(compare_area_->layout());
  int k = 0;
  for (const auto& spec : specs) {
    auto* plot = new MetricPlot(compare_area_);
    plot->setObjectName(QString::fromUtf8(spec.name));
    plot->setTitle(spec.title);
    plot->setCaption(spec.caption);
    const int x_mode = compare_x_->currentIndex();  // 0 step, 1 tokens, 2 seconds
    plot->setAxisLabels(x_mode == 1 ? tr("tokens seen") : x_mode == 2 ? tr("time (s)") : tr("step"), spec.y);
    if (spec.reference) plot->setReferenceLine(*spec.reference);
    // Each run's own x (its tokens or seconds at each step): the plot's shared step → x table
    // cannot serve runs with different batch sizes or speeds.
    for (int i = 0; i < compare_runs_.size(); ++i) {
      const int series = plot->addSeries(compare_labels_.value(i), kRunColours[i % std::size(kRunColours)]);
      for (const auto& r : metrics[static_cast<size_t>(i)]) {
        const double x = x_mode == 1   ? static_cast<double>(r.tokens)
                         : x_mode == 2 ? r.elapsed_seconds
                                       : static_cast<double>(r.step);
        plot->addPoint(series, x, spec.value(r));
      }
    }
    plot->setSmoothing(smoothing_);
    plot->setClipOutliers(compare_outliers_->isChecked());
    grid->addWidget(plot, k / 2, k % 2);
    compare_plots_.push_back(plot);
    ++k;
  }
  for (auto* plot : std::as_const(compare_plots_)) plot->flush();
  compare_area_->setVisible(!compare_runs_.isEmpty());
  compare_bar_->setVisible(!compare_runs_.isEmpty());
  compare_note_->setVisible(!compare_runs_.isEmpty());
  compare_empty_->setVisible(compare_runs_.isEmpty());
  QString note =
      compare_runs_.isEmpty()
          ? tr("Tick runs in the Runs list (View ▸ Runs) to overlay them here: one colour per run, each "
               "named by the settings in which the runs differ.")
          : tr("%n run(s) overlaid; each is named by the settings in which they differ.", nullptr,
               static_cast<int>(compare_runs_.size()));
  if (!errors.isEmpty()) note += "\n" + errors.join("\n");
  compare_note_->setText(note);
}

}  // namespace dpo::studio
