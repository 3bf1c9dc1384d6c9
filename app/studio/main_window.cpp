#include "app/studio/main_window.h"

#include <QApplication>
#include <QCloseEvent>
#include <QCheckBox>
#include <QComboBox>
#include <QDebug>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMenuBar>
#include <QMenu>
#include <QMessageBox>
#include <QPushButton>
#include <QScrollArea>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardItemModel>
#include <QStatusBar>
#include <QStyle>
#include <QTabWidget>
#include <QThread>
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "app/studio/dataset_preview.h"
#include "app/studio/diagnostics_feed.h"
#include "app/studio/lesson_controller.h"
#include "app/studio/run_catalog.h"
#include "core/diagnose/diagnostics.h"
#include "widgets/beta_slider.h"
#include "widgets/dataset_panel.h"
#include "widgets/playground_panel.h"
#include "widgets/diagnostics_panel.h"
#include "widgets/error_dialog.h"
#include "widgets/metric_plot.h"
#include "widgets/progress_strip.h"
#include "widgets/pair_inspector.h"
#include "widgets/runs_panel.h"

namespace dpo::studio {

namespace {
// Okabe–Ito colours: distinguishable with the common colour-vision deficiencies.
const QColor kChosen(0x00, 0x72, 0xB2);    // blue
const QColor kRejected(0xD5, 0x5E, 0x00);  // vermillion
const QColor kMargin(0x00, 0x9E, 0x73);    // bluish green
const QColor kAccent(0x88, 0x88, 0x88);    // grey, secondary series
const QColor kLoss(0xCC, 0x79, 0xA7);      // reddish purple

// Losses of the roadmap, listed disabled so users see what is coming.
const char* const kComingLosses[] = {"IPO", "hinge (SLiC)", "robust DPO", "SimPO", "ORPO", "KTO"};

QLabel* valueLabel(QWidget* parent) {
  auto* l = new QLabel(parent);
  l->setTextInteractionFlags(Qt::TextSelectableByMouse);
  l->setWordWrap(true);
  return l;
}

QString formatCount(qint64 n) {
  if (n >= 1'000'000) return QString::number(n / 1e6, 'f', 2) + " M";
  if (n >= 10'000) return QString::number(n / 1e3, 'f', 1) + " k";
  return QString::number(n);
}
}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  qRegisterMetaType<MetricRecord>();
  qRegisterMetaType<EvalRecord>();
  qRegisterMetaType<PairTokensRecord>();
  qRegisterMetaType<RunEventRecord>();
  setWindowTitle(tr("DPO Studio"));

  auto* splitter = new QSplitter(Qt::Horizontal, this);
  auto* scroll = new QScrollArea(splitter);
  scroll->setWidget(buildSettingsPanel());
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  const int panel_width = std::max(scroll->widget()->minimumWidth(), scroll->widget()->minimumSizeHint().width()) +
                          scroll->style()->pixelMetric(QStyle::PM_ScrollBarExtent) + 4;
  scroll->setMinimumWidth(panel_width);
  splitter->addWidget(scroll);
  tabs_ = new QTabWidget(splitter);
  tabs_->setObjectName("centralTabs");
  tabs_->addTab(buildPlots(), tr("Training"));
  inspector_ = new widgets::PairInspector(tabs_);
  inspector_->setObjectName("pairInspector");
  tabs_->addTab(inspector_, tr("Pair inspector"));
  tabs_->setTabToolTip(1, tr("The eval pairs at the latest evaluation: which are mis-ranked, and which tokens drove them"));
  tabs_->addTab(optimiser_plot_, tr("Optimiser"));
  tabs_->setTabToolTip(tabs_->count() - 1, tr("Gradient norm before clipping and the learning rate schedule, per step"));
  connect(inspector_, &widgets::PairInspector::pairTokensRequested, this, [this](qint64 line) {
    if (worker_) worker_->requestPairTokens(line);
  });
  // Dataset tab: previews whatever the data field names (debounced), off the GUI thread.
  dataset_panel_ = new widgets::DatasetPanel(tabs_);
  dataset_panel_->setObjectName("datasetPanel");
  dataset_panel_->setLoader([](const QString& path, const QMap<QString, QString>& columns) {
    return loadDatasetPreview(path, columns);
  });
  tabs_->addTab(dataset_panel_, tr("Dataset"));
  auto* data_debounce = new QTimer(this);
  data_debounce->setSingleShot(true);
  data_debounce->setInterval(300);
  connect(data_debounce, &QTimer::timeout, this, [this] { dataset_panel_->load(data_edit_->text().trimmed()); });
  connect(data_edit_, &QLineEdit::textChanged, data_debounce, qOverload<>(&QTimer::start));
  data_debounce->start();  // the embedded demo (or the configured file) at start-up
  // Playground tab (issue 7): policy and reference answer a prompt while the run is paused.
  playground_ = new widgets::PlaygroundPanel(tabs_);
  playground_->setObjectName("playground");
  tabs_->addTab(playground_, tr("Playground"));
  connect(playground_, &widgets::PlaygroundPanel::generationRequested, this,
          [this](const QString& prompt, int max_new_tokens, double temperature, quint64 seed) {
            if (worker_) worker_->requestGeneration(prompt, max_new_tokens, temperature, seed);
          });
  splitter->addWidget(tabs_);
  splitter->setStretchFactor(0, 0);
  splitter->setStretchFactor(1, 1);
  splitter->setCollapsible(0, false);
  splitter->setCollapsible(1, false);
  splitter->setSizes({panel_width, 1500 - panel_width});
  setCentralWidget(splitter);
  buildDiagnosticsDock();
  buildEventDock();
  buildRunsDock();

  // The rules are cheap, but a fast run can deliver dozens of steps a second: once a second is
  // plenty for findings that describe trends.
  diagnose_timer_.setInterval(1000);
  connect(&diagnose_timer_, &QTimer::timeout, this, [this] {
    if (diagnostics_stale_) refreshDiagnostics();
  });

  buildStatusBar();
  buildMenus();
  buildRunsActions();
  new LessonController(this);  // the Lessons menu and dock (issue 8); a child of the window
  setRunConfig(defaultRunConfig());
  setState(RunState::Idle);
  resize(1500, 940);
}

MainWindow::~MainWindow() {
  if (worker_) worker_->requestStop();
  joinWorker();
}

QWidget* MainWindow::buildSettingsPanel() {
  auto* panel = new QWidget;
  auto* layout = new QVBoxLayout(panel);
  layout->setContentsMargins(8, 8, 8, 8);
  layout->setSpacing(10);

  auto* settings = new QWidget(panel);
  auto* settings_layout = new QVBoxLayout(settings);
  settings_layout->setContentsMargins(0, 0, 0, 0);
  settings_layout->setSpacing(10);
  settings_box_ = settings;

  // Model and data: the built-in demo first, then recent folders and files, then Open….
  auto* data_box = new QGroupBox(tr("Model and data"), settings);
  auto* data_form = new QFormLayout(data_box);
  model_combo_ = new QComboBox(data_box);
  model_combo_->setObjectName("modelCombo");
  model_combo_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  model_combo_->setMinimumContentsLength(16);
  model_combo_->setToolTip(tr("The policy to train (and, frozen, its reference): the built-in demo model or a Hugging Face folder"));
  data_combo_ = new QComboBox(data_box);
  data_combo_->setObjectName("dataCombo");
  data_combo_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  data_combo_->setMinimumContentsLength(16);
  data_combo_->setToolTip(tr("The demo's datasets (true reward known), recent files, or any preference file"));
  data_form->addRow(tr("Model"), model_combo_);
  data_form->addRow(tr("Dataset"), data_combo_);
  auto* data_row = new QHBoxLayout;
  data_form->addRow(tr("File"), data_row);
  data_edit_ = new QLineEdit(data_box);
  data_edit_->setObjectName("dataEdit");
  data_edit_->setPlaceholderText(tr("embedded demo (240 pairs)"));
  data_edit_->setClearButtonEnabled(true);
  data_edit_->setToolTip(tr("Preference JSONL, one {\"prompt\", \"chosen\", \"rejected\"} object per line.\n"
                            "Leave empty to train on the embedded demo."));
  open_button_ = new QPushButton(tr("Open…"), data_box);
  connect(open_button_, &QPushButton::clicked, this, &MainWindow::chooseDataFile);
  data_row->addWidget(data_edit_, 1);
  data_row->addWidget(open_button_);
  fillPickers();
  connect(model_combo_, &QComboBox::activated, this, &MainWindow::onModelPicked);
  connect(data_combo_, &QComboBox::activated, this, &MainWindow::onDataPicked);
  connect(data_edit_, &QLineEdit::textChanged, this, &MainWindow::syncDataCombo);

  // Objective
  auto* objective_box = new QGroupBox(tr("Objective"), settings);
  auto* objective_form = new QFormLayout(objective_box);
  loss_combo_ = new QComboBox(objective_box);
  loss_combo_->setObjectName("lossCombo");
  for (const auto& loss : availableLosses()) {
    loss_combo_->addItem(loss.label, loss.name);
    loss_combo_->setItemData(loss_combo_->count() - 1, loss.formula, Qt::ToolTipRole);
  }
  loss_combo_->insertSeparator(loss_combo_->count());
  auto* model = qobject_cast<QStandardItemModel*>(loss_combo_->model());
  for (const char* name : kComingLosses) {
    loss_combo_->addItem(tr("%1 (coming)").arg(QString::fromUtf8(name)));
    if (model) model->item(loss_combo_->count() - 1)->setEnabled(false);
  }
  connect(loss_combo_, &QComboBox::currentIndexChanged, this, &MainWindow::updateLossFormula);
  objective_form->addRow(tr("Loss"), loss_combo_);
  loss_formula_ = new QLabel(objective_box);
  loss_formula_->setWordWrap(true);
  loss_formula_->setStyleSheet("color: #5f6b7a;");
  loss_formula_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  objective_form->addRow(loss_formula_);

  beta_spin_ = new QDoubleSpinBox(objective_box);
  beta_spin_->setRange(0.001, 10.0);
  beta_spin_->setDecimals(3);
  // Steps scale with the value's magnitude (0.01 → 0.011, 1 → 1.1): a log-like feel.
  beta_spin_->setStepType(QAbstractSpinBox::AdaptiveDecimalStepType);
  beta_spin_->setToolTip(tr("β, the DPO temperature: how strongly the policy is tied to the reference.\n"
                            "Larger β keeps it closer to the reference; smaller β lets it move further.\n"
                            "Typical range 0.01 – 0.5 (seed 002 §6); 0.1 is the usual start.\n"
                            "While paused you may change it: it applies from the next step and is marked on the plots."));
  connect(beta_spin_, &QDoubleSpinBox::editingFinished, this, &MainWindow::applyRunChanges);
  objective_form->addRow(tr("β (beta)"), beta_spin_);
  beta_slider_ = new widgets::BetaSlider(objective_box);
  beta_slider_->setObjectName("betaSlider");
  objective_form->addRow(QString(), beta_slider_);
  connect(beta_slider_, &widgets::BetaSlider::betaChanged, this, [this](double beta) {
    beta_spin_->setValue(beta);
  });
  connect(beta_slider_, &QSlider::sliderReleased, this, &MainWindow::applyRunChanges);
  connect(beta_spin_, &QDoubleSpinBox::valueChanged, this, [this](double beta) { beta_slider_->setBeta(beta); });

  // Optimisation
  auto* optim_box = new QGroupBox(tr("Optimisation"), settings);
  auto* optim_form = new QFormLayout(optim_box);
  lr_spin_ = new QDoubleSpinBox(optim_box);
  lr_spin_->setRange(1e-6, 1.0);
  lr_spin_->setDecimals(6);
  lr_spin_->setStepType(QAbstractSpinBox::AdaptiveDecimalStepType);
  lr_spin_->setToolTip(tr("AdamW learning rate of the policy.\n"
                          "While paused you may change it: it applies from the next step and is marked on the plots."));
  connect(lr_spin_, &QDoubleSpinBox::editingFinished, this, &MainWindow::applyRunChanges);
  optim_form->addRow(tr("Learning rate"), lr_spin_);
  steps_spin_ = new QSpinBox(optim_box);
  steps_spin_->setRange(1, 1'000'000);
  steps_spin_->setToolTip(tr("Optimiser steps of the run."));
  optim_form->addRow(tr("Steps"), steps_spin_);
  batch_spin_ = new QSpinBox(optim_box);
  batch_spin_->setRange(1, 4096);
  batch_spin_->setToolTip(tr("Preference pairs per optimiser step."));
  optim_form->addRow(tr("Batch size (pairs)"), batch_spin_);
  eval_spin_ = new QSpinBox(optim_box);
  eval_spin_->setRange(0, 1'000'000);
  eval_spin_->setSpecialValueText(tr("only at the end"));
  eval_spin_->setToolTip(tr("Evaluate the held-out pairs every this many steps: eval points on the plots, sampled "
                            "length, and the pair inspector."));
  optim_form->addRow(tr("Evaluate every (steps)"), eval_spin_);

  settings_layout->addWidget(data_box);
  settings_layout->addWidget(objective_box);
  settings_layout->addWidget(optim_box);
  settings_layout->addWidget(buildMoreSettings(settings));
  connect(data_edit_, &QLineEdit::textChanged, this, &MainWindow::validateSettings);
  connect(steps_spin_, &QSpinBox::valueChanged, this, &MainWindow::validateSettings);
  connect(eval_spin_, &QSpinBox::valueChanged, this, &MainWindow::validateSettings);
  layout->addWidget(settings);

  // Settings a run would fail on, named before Start (which stays disabled until they are fixed).
  validation_ = new QLabel(panel);
  validation_->setObjectName("settingsProblems");
  validation_->setWordWrap(true);
  validation_->hide();
  layout->addWidget(validation_);

  // Controls
  auto* buttons = new QHBoxLayout;
  start_button_ = new QPushButton(style()->standardIcon(QStyle::SP_MediaPlay), tr("Start"), panel);
  start_button_->setDefault(true);
  pause_button_ = new QPushButton(style()->standardIcon(QStyle::SP_MediaPause), tr("Pause"), panel);
  stop_button_ = new QPushButton(style()->standardIcon(QStyle::SP_MediaStop), tr("Stop"), panel);
  step_button_ = new QPushButton(style()->standardIcon(QStyle::SP_MediaSeekForward), tr("Step"), panel);
  start_button_->setToolTip(tr("Start a new run (clears the plots)  [F5]"));
  pause_button_->setToolTip(tr("Pause after the step in progress, or resume  [F6]"));
  step_button_->setToolTip(tr("While paused: run exactly one optimiser step  [F10]"));
  stop_button_->setToolTip(tr("Stop after the step in progress  [Shift+F5]"));
  for (auto* b : {start_button_, pause_button_, step_button_, stop_button_}) {
    b->setMinimumHeight(30);
    buttons->addWidget(b);
  }
  connect(start_button_, &QPushButton::clicked, this, &MainWindow::startTraining);
  connect(pause_button_, &QPushButton::clicked, this, &MainWindow::togglePause);
  connect(stop_button_, &QPushButton::clicked, this, &MainWindow::stopTraining);
  connect(step_button_, &QPushButton::clicked, this, &MainWindow::stepOnce);
  layout->addLayout(buttons);
  layout->addLayout(buildRunControls(panel));

  // Run facts
  auto* run_box = new QGroupBox(tr("Run"), panel);
  auto* run_form = new QFormLayout(run_box);
  run_data_ = valueLabel(run_box);
  run_model_ = valueLabel(run_box);
  run_data_->setText(tr("—"));
  run_model_->setText(tr("—"));
  run_form->addRow(tr("Data"), run_data_);
  run_form->addRow(tr("Policy"), run_model_);
  run_compute_ = valueLabel(run_box);
  run_compute_->setText(tr("—"));
  run_form->addRow(tr("Compute"), run_compute_);
  layout->addWidget(run_box);

  // Latest numbers, including those no plot shows (grad norm, learning rate, epoch).
  auto* latest_box = new QGroupBox(tr("Latest step"), panel);
  auto* latest_form = new QFormLayout(latest_box);
  const std::pair<const char*, const char*> rows[] = {
      {"epoch", "Pass over data"},
      {"loss", "Loss"},
      {"margin", "Reward margin"},
      {"chosen", "Reward chosen"},
      {"rejected", "Reward rejected"},
      {"accuracy", "Accuracy"},
      {"beta", "β"},
      {"grad_norm", "Grad norm (pre-clip)"},
      {"lr", "Learning rate"},
      {"tokens", "Tokens processed"},
  };
  for (const auto& [key, label] : rows) {
    auto* value = valueLabel(latest_box);
    value->setText(tr("—"));
    latest_form->addRow(tr(label), value);
    latest_[QString::fromUtf8(key)] = value;
  }
  layout->addWidget(latest_box);

  auto* hint = new QLabel(tr("Plots: hover for exact values, drag to pan, wheel to zoom, double-click to fit; "
                             "right-click for a log scale and PNG/CSV export."),
                          panel);
  hint->setWordWrap(true);
  hint->setStyleSheet("color: #7a8594;");
  layout->addWidget(hint);
  layout->addStretch(1);
  panel->setMinimumWidth(340);
  return panel;
}

QWidget* MainWindow::buildPlots() {
  using widgets::MetricPlot;
  auto* area = new QWidget;
  auto* outer = new QVBoxLayout(area);
  outer->setContentsMargins(4, 6, 8, 4);
  outer->setSpacing(4);
  outer->addWidget(buildPlotToolbar());
  auto* grid = new QGridLayout;
  grid->setContentsMargins(0, 0, 0, 0);
  grid->setSpacing(8);
  outer->addLayout(grid, 1);

  margin_plot_ = new MetricPlot(area);
  margin_plot_->setObjectName("rewardMarginPlot");
  margin_plot_->setTitle(tr("Implicit reward margin (rewards/margins)"));
  margin_plot_->setCaption(tr("Good: rises above 0 and keeps rising; accuracy (right axis) climbs toward 1."));
  margin_plot_->setAxisLabels(tr("step"), tr("β · (chosen − rejected log-ratio)  [nats]"),
                              tr("accuracy  [share of pairs]"));
  margin_plot_->addSeries(tr("reward margin"), kMargin);
  margin_plot_->addSeries(tr("accuracy (right)"), kAccent, MetricPlot::Axis::Right, true);
  eval_margin_ = margin_plot_->addPointSeries(tr("eval margin"), kMargin.darker(140));
  eval_accuracy_ = margin_plot_->addPointSeries(tr("eval acc. (right)"), kAccent.darker(140), MetricPlot::Axis::Right);
  margin_plot_->setRightAxisRange(0.0, 1.05);
  margin_plot_->setReferenceLine(0.0, tr("zero margin"));

  logratio_plot_ = new MetricPlot(area);
  logratio_plot_->setObjectName("logRatioPlot");
  logratio_plot_->setTitle(tr("Chosen vs rejected log-ratio"));
  logratio_plot_->setCaption(tr("Good: both start at 0; chosen stays ≥ rejected; both falling together hints β too low."));
  logratio_plot_->setToolTip(tr("Sequence log-probabilities, summed over the response tokens; the plotted values are "
                                "rewards/chosen and rewards/rejected divided by β."));
  logratio_plot_->setAxisLabels(tr("step"), tr("log π(y|x) − log π_ref(y|x)  [nats]"));
  logratio_plot_->addSeries(tr("chosen y_w"), kChosen);
  logratio_plot_->addSeries(tr("rejected y_l"), kRejected);
  eval_chosen_ = logratio_plot_->addPointSeries(tr("eval chosen"), kChosen.darker(130));
  eval_rejected_ = logratio_plot_->addPointSeries(tr("eval rejected"), kRejected.darker(130));
  // The mean log-ratio of the policy's own samples: an estimate of KL(π‖π_ref), ≥ 0 in expectation.
  sampled_kl_ = logratio_plot_->addPointSeries(tr("KL(π‖π_ref), sampled"), QColor(0x6a, 0x3d, 0x9a));
  logratio_plot_->setReferenceLine(0.0, tr("reference policy"));

  loss_plot_ = new MetricPlot(area);
  loss_plot_->setObjectName("lossPlot");
  loss_plot_->setTitle(tr("Loss"));
  loss_plot_->setCaption(tr("Good: starts at ln 2 ≈ 0.693 (policy = reference) and falls."));
  loss_plot_->setAxisLabels(tr("step"), tr("loss  [nats]"));
  loss_plot_->addSeries(tr("loss"), kLoss);
  eval_loss_ = loss_plot_->addPointSeries(tr("eval loss"), kLoss.darker(150));
  loss_plot_->setReferenceLine(0.69314718, tr("ln 2"));

  length_plot_ = new MetricPlot(area);
  length_plot_->setObjectName("lengthPlot");
  length_plot_->setTitle(tr("Response length per batch"));
  length_plot_->setCaption(tr("Watch for length bias: if chosen is routinely longer than rejected, the policy can "
                              "learn “longer is better”; sampled length rising with the margin is exploitation."));
  length_plot_->setAxisLabels(tr("step"), tr("mean response length  [tokens]"),
                              tr("tokens processed  [tokens, cumulative]"));
  length_plot_->addSeries(tr("chosen y_w"), kChosen);
  length_plot_->addSeries(tr("rejected y_l"), kRejected);
  length_plot_->addSeries(tr("tokens (right)"), kAccent, MetricPlot::Axis::Right, true);
  sampled_length_ = length_plot_->addPointSeries(tr("sampled (eval)"), QColor(0x00, 0x9E, 0x73));

  length_plot_->setSeriesSmoothed(2, false);

  // Its own tab: the optimiser's view of the run, not the preference signal.
  optimiser_plot_ = new MetricPlot;
  optimiser_plot_->setObjectName("optimiserPlot");
  optimiser_plot_->setTitle(tr("Gradient norm and learning rate"));
  optimiser_plot_->setCaption(tr("Good: the norm settles after the first steps; spikes with loss spikes mean the "
                                 "learning rate is too high (clipping reports the norm before clipping)."));
  optimiser_plot_->setAxisLabels(tr("step"), tr("gradient norm (pre-clip)"), tr("learning rate"));
  optimiser_plot_->addSeries(tr("grad norm"), kLoss);
  optimiser_plot_->addSeries(tr("learning rate (right)"), kAccent, MetricPlot::Axis::Right, true);
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
  return area;
}

QWidget* MainWindow::buildPlotToolbar() {
  auto* bar = new QWidget;
  auto* row = new QHBoxLayout(bar);
  row->setContentsMargins(4, 0, 0, 0);
  auto* label = new QLabel(tr("Smoothing"), bar);
  smoothing_slider_ = new QSlider(Qt::Horizontal, bar);
  smoothing_slider_->setObjectName("smoothingSlider");
  smoothing_slider_->setRange(0, 99);
  smoothing_slider_->setValue(60);
  smoothing_slider_->setFixedWidth(160);
  smoothing_slider_->setToolTip(tr("Weight of the past in the exponential moving average drawn over each raw "
                                   "series (TensorBoard's smoothing, debiased at the start). 0 = raw only."));
  smoothing_value_ = new QLabel(bar);
  smoothing_value_->setMinimumWidth(32);
  connect(smoothing_slider_, &QSlider::valueChanged, this, &MainWindow::setSmoothing);
  row->addWidget(label);
  row->addWidget(smoothing_slider_);
  row->addWidget(smoothing_value_);
  x_axis_combo_ = new QComboBox(bar);
  x_axis_combo_->setObjectName("xAxisCombo");
  x_axis_combo_->addItem(tr("x: step"), static_cast<int>(widgets::MetricPlot::XAxis::Step));
  x_axis_combo_->addItem(tr("x: tokens"), static_cast<int>(widgets::MetricPlot::XAxis::Tokens));
  x_axis_combo_->addItem(tr("x: time"), static_cast<int>(widgets::MetricPlot::XAxis::Seconds));
  x_axis_combo_->setToolTip(tr("Draw every plot against the optimizer step, the tokens trained on, or the seconds "
                               "since the run started (compare runs of different batch sizes or speeds)"));
  connect(x_axis_combo_, &QComboBox::currentIndexChanged, this, [this] {
    const auto axis = static_cast<widgets::MetricPlot::XAxis>(x_axis_combo_->currentData().toInt());
    for (auto* plot : plots()) plot->setXAxis(axis);
  });
  clip_check_ = new QCheckBox(tr("Ignore outliers"), bar);
  clip_check_->setObjectName("clipOutliersCheck");
  clip_check_->setToolTip(tr("Scale the y axes to the 1st–99th percentile, so one spike does not flatten the curves "
                             "(the spike is still drawn)"));
  connect(clip_check_, &QCheckBox::toggled, this, [this](bool on) {
    for (auto* plot : plots()) plot->setClipOutliers(on);
  });
  row->addSpacing(12);
  row->addWidget(x_axis_combo_);
  row->addWidget(clip_check_);
  auto* help = new QLabel(tr("faint: raw per step · solid: smoothed"), bar);
  help->setStyleSheet("color: #7a8594;");
  // A hint, not a control: it may be cut on a narrow screen rather than widen the window.
  help->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  help->setAlignment(Qt::AlignRight | Qt::AlignVCenter);
  row->addWidget(help, 1);
  return bar;
}

void MainWindow::setSmoothing(int percent) {
  smoothing_value_->setText(QString::number(percent / 100.0, 'f', 2));
  for (auto* plot : plots()) plot->setSmoothing(percent / 100.0);
}

void MainWindow::buildDiagnosticsDock() {
  auto* dock = new QDockWidget(tr("Diagnostics"), this);
  dock->setObjectName("diagnosticsDock");
  dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable |
                    QDockWidget::DockWidgetClosable);
  diagnostics_ = new widgets::DiagnosticsPanel(dock);
  diagnostics_->setMinimumWidth(240);
  dock->setWidget(diagnostics_);
  addDockWidget(Qt::RightDockWidgetArea, dock);
  resizeDocks({dock}, {340}, Qt::Horizontal);
}

void MainWindow::refreshDiagnostics() {
  diagnostics_stale_ = false;
  ++diagnoses_;
  const double beta = records_.empty() ? active_config_.beta : records_.back().beta;
  diagnostics_->setItems(diagnoseRecords(records_, beta > 0 ? beta : active_config_.beta, evals_),
                         static_cast<qint64>(records_.size()));
  const auto trend_steps = static_cast<qint64>(diagnose::limits::kMinStepsForTrend);
  const auto steps = static_cast<qint64>(records_.size());
  diagnostics_->setFootnote(steps > 0 && steps < trend_steps
                                ? tr("The trend checks start after %1 steps (%2 so far).").arg(trend_steps).arg(steps)
                                : QString());
}

void MainWindow::buildStatusBar() {
  auto* bar = statusBar();
  status_state_ = new QLabel(bar);
  status_step_ = new QLabel(bar);
  status_loss_ = new QLabel(bar);
  status_accuracy_ = new QLabel(bar);
  status_speed_ = new QLabel(bar);
  QFont bold = status_state_->font();
  bold.setBold(true);
  status_state_->setFont(bold);
  bar->addWidget(status_state_);
  progress_ = new widgets::ProgressStrip(bar);
  progress_->setObjectName("preparationStrip");
  bar->addWidget(progress_);
  connect(progress_, &widgets::ProgressStrip::cancelRequested, this, &MainWindow::stopTraining);
  for (auto* l : {status_step_, status_loss_, status_accuracy_, status_speed_}) {
    l->setMinimumWidth(120);
    bar->addPermanentWidget(l);
  }
}

void MainWindow::buildMenus() {
  auto* file = menuBar()->addMenu(tr("&File"));
  QAction* open = file->addAction(tr("&Open pairs file…"));
  open->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));  // Ctrl+O opens a run
  connect(open, &QAction::triggered, this, &MainWindow::chooseDataFile);
  file->addAction(tr("Save &plots as PNG…"), this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Folder for the plot images"));
    if (dir.isEmpty()) return;
    for (auto* plot : plots()) plot->savePng(dir + "/" + plot->objectName() + ".png");
  });
  file->addSeparator();
  QAction* quit = file->addAction(tr("&Quit"));
  quit->setShortcut(QKeySequence::Quit);
  connect(quit, &QAction::triggered, this, &QWidget::close);
  auto* view = menuBar()->addMenu(tr("&View"));
  if (auto* dock = findChild<QDockWidget*>("diagnosticsDock")) view->addAction(dock->toggleViewAction());
  view->addAction(tr("&Training plots"), QKeySequence(Qt::CTRL | Qt::Key_1), this, [this] { showInspector(false); });
  view->addAction(tr("Pair &inspector"), QKeySequence(Qt::CTRL | Qt::Key_2), this, [this] { showInspector(true); });
  if (auto* dock = findChild<QDockWidget*>("eventDock")) view->addAction(dock->toggleViewAction());
  // Debugger keys: F5 run, F6 pause, F10 step, Shift+F5 stop. Window-wide, whatever has focus.
  auto* run = menuBar()->addMenu(tr("&Run"));
  run->addAction(tr("&Start"), QKeySequence(Qt::Key_F5), this, &MainWindow::startTraining);
  run->addAction(tr("&Pause / Resume"), QKeySequence(Qt::Key_F6), this, &MainWindow::togglePause);
  run->addAction(tr("S&tep (while paused)"), QKeySequence(Qt::Key_F10), this, &MainWindow::stepOnce);
  run->addAction(tr("S&top"), QKeySequence(Qt::SHIFT | Qt::Key_F5), this, &MainWindow::stopTraining);
  run->addSeparator();
  run->addAction(tr("&Evaluate now"), QKeySequence(Qt::Key_F9), this, &MainWindow::evaluateNow);
}

QList<widgets::MetricPlot*> MainWindow::plots() const {
  return {margin_plot_, logratio_plot_, loss_plot_, length_plot_, optimiser_plot_};
}

void MainWindow::flushPlots() {
  for (auto* plot : plots()) plot->flush();
}

void MainWindow::setComputeInfo(const QString& summary, const QString& details) {
  run_compute_->setText(summary);
  run_compute_->setToolTip(details);
}

void MainWindow::setRunConfig(const StudioRunConfig& config) {
  data_edit_->setText(config.data_path);
  const int loss_index = loss_combo_->findData(config.loss_name);
  loss_combo_->setCurrentIndex(loss_index >= 0 ? loss_index : 0);
  beta_spin_->setValue(config.beta);
  lr_spin_->setValue(config.learning_rate);
  steps_spin_->setValue(static_cast<int>(config.steps));
  batch_spin_->setValue(static_cast<int>(config.batch_size));
  eval_spin_->setValue(static_cast<int>(config.eval_every));
  pause_after_ = config.pause_after;
  threads_ = config.threads;
  if (config.model_dir != modelDir()) setModelDir(config.model_dir);
  if (config.reference_dir != referenceDir()) setReferenceDir(config.reference_dir);
  setSftReferenceSteps(config.sft_reference_steps);
  const int device = device_combo_->findData(config.device);
  device_combo_->setCurrentIndex(device >= 0 ? device : 0);
  accum_spin_->setValue(static_cast<int>(config.grad_accumulation));
  seed_spin_->setValue(static_cast<int>(config.seed));
  max_length_spin_->setValue(static_cast<int>(config.max_length));
  max_prompt_spin_->setValue(static_cast<int>(config.max_prompt_length));
  lora_spin_->setValue(static_cast<int>(config.lora_r));
  lora_alpha_spin_->setValue(config.lora_alpha);
  beta_slider_->setBeta(config.beta);
  updateLossFormula();
  validateSettings();
}

StudioRunConfig MainWindow::runConfig() const {
  StudioRunConfig c;
  c.data_path = data_edit_->text().trimmed();
  c.columns = dataset_panel_->columnsText();
  c.loss_name = loss_combo_->currentData().toString();
  c.beta = beta_spin_->value();
  c.learning_rate = lr_spin_->value();
  c.steps = steps_spin_->value();
  c.batch_size = batch_spin_->value();
  c.eval_every = eval_spin_->value();
  c.pause_after = pause_after_;
  c.threads = threads_;
  c.lesson = lesson_run_;
  c.model_dir = modelDir();
  c.reference_dir = referenceDir();
  c.sft_reference_steps = sftReferenceSteps();
  c.device = device_combo_->currentData().toString();
  c.grad_accumulation = accum_spin_->value();
  c.seed = static_cast<quint64>(seed_spin_->value());
  c.max_length = max_length_spin_->value();
  c.max_prompt_length = max_prompt_spin_->value();
  c.lora_r = lora_spin_->value();
  c.lora_alpha = lora_alpha_spin_->value();
  return c;
}

void MainWindow::updateLossFormula() {
  const QString formula = loss_combo_->currentData(Qt::ToolTipRole).toString();
  loss_formula_->setText(formula);
  loss_formula_->setVisible(!formula.isEmpty());
}

void MainWindow::chooseDataFile() {
  const QString path = QFileDialog::getOpenFileName(this, tr("Open preference pairs"), data_edit_->text(),
                                                    tr("JSON Lines (*.jsonl *.json);;All files (*)"));
  if (!path.isEmpty()) data_edit_->setText(path);
}

void MainWindow::setState(RunState state) {
  state_ = state;
  const bool idle = state == RunState::Idle;
  const bool paused = state == RunState::Paused;
  // While paused only β and the learning rate may change; everything else is fixed for the run.
  settings_box_->setEnabled(idle || paused);
  for (QWidget* w : std::initializer_list<QWidget*>{data_edit_, open_button_, loss_combo_, steps_spin_, batch_spin_,
                                                    eval_spin_, model_combo_, data_combo_, more_settings_})
    w->setEnabled(idle);
  beta_spin_->setEnabled(idle || paused);
  beta_slider_->setEnabled(idle || paused);
  lr_spin_->setEnabled(idle || paused);
  step_button_->setEnabled(paused && !stepping_);
  playground_->setRunState(paused, !idle);
  start_button_->setEnabled(idle);
  stop_button_->setEnabled(state == RunState::Preparing || state == RunState::Running ||
                           state == RunState::Pausing || state == RunState::Paused);
  pause_button_->setEnabled(state == RunState::Running || state == RunState::Paused);
  const bool show_resume = state == RunState::Paused;
  pause_button_->setText(show_resume ? tr("Resume") : state == RunState::Pausing ? tr("Pausing…") : tr("Pause"));
  pause_button_->setIcon(style()->standardIcon(show_resume ? QStyle::SP_MediaPlay : QStyle::SP_MediaPause));

  switch (state) {
    case RunState::Idle:
      status_state_->setText(run_failed_ ? tr("Failed") : records_.empty() ? tr("Ready") : tr("Finished"));
      break;
    case RunState::Preparing: status_state_->setText(tr("Preparing data and model…")); break;
    case RunState::Running: status_state_->setText(tr("Training")); break;
    case RunState::Pausing: status_state_->setText(tr("Pausing after this step…")); break;
    case RunState::Paused:
      status_state_->setText(stepping_ ? tr("Paused · stepping once…") : tr("Paused · β and learning rate editable"));
      break;
    case RunState::Stopping: status_state_->setText(tr("Stopping after this step…")); break;
  }
  updateRunControls();
  if (idle) validateSettings();
}

void MainWindow::startTraining() {
  if (state_ != RunState::Idle || thread_ || !validateSettings()) return;
  active_config_ = runConfig();
  lesson_run_.reset();  // one run only; a plain Start after it trains the form's settings
  rememberUsed(active_config_);
  beginRun();
  records_.clear();
  evals_.clear();
  events_.clear();
  event_log_->clear();
  stepping_ = false;
  inspector_->clear();
  inspector_->setTokensAvailable(true);
  steps_done_ = 0;
  run_failed_ = false;
  last_error_.clear();
  for (auto* plot : plots()) plot->clear();
  diagnostics_->clear();
  diagnostics_stale_ = false;
  diagnose_timer_.start();
  status_step_->setText(tr("step 0 / %1").arg(active_config_.steps));
  status_loss_->clear();
  status_accuracy_->clear();
  status_speed_->clear();
  run_data_->setText(active_config_.lesson ? tr("demo: %1").arg(QString::fromStdString(active_config_.lesson->dataset))
                     : active_config_.data_path.isEmpty() ? tr("embedded demo")
                                                          : active_config_.data_path);
  run_model_->setText(tr("—"));
  for (auto* value : std::as_const(latest_)) value->setText(tr("—"));

  preloadResumedRun();
  thread_ = new QThread(this);
  thread_->setObjectName("training");
  worker_ = new TrainingWorker(active_config_);
  worker_->moveToThread(thread_);
  connect(thread_, &QThread::started, worker_, &TrainingWorker::run);
  connect(worker_, &TrainingWorker::prepared, this, &MainWindow::onPrepared);
  connect(worker_, &TrainingWorker::stepFinished, this, &MainWindow::onStep);
  connect(worker_, &TrainingWorker::evalFinished, this, &MainWindow::onEval);
  connect(worker_, &TrainingWorker::eventLogged, this, &MainWindow::onEvent);
  connect(worker_, &TrainingWorker::pairTokensReady, this, &MainWindow::onPairTokens);
  connect(worker_, &TrainingWorker::generationToken, playground_, &widgets::PlaygroundPanel::appendToken);
  connect(worker_, &TrainingWorker::generationFinished, playground_, &widgets::PlaygroundPanel::showResult);
  connect(worker_, &TrainingWorker::paused, this, &MainWindow::onPaused);
  connect(worker_, &TrainingWorker::failed, this, &MainWindow::onFailed);
  connect(worker_, &TrainingWorker::finished, this, &MainWindow::onFinished);
  connectRunDirectory(worker_);
  connect(worker_, &TrainingWorker::preparing, progress_, &widgets::ProgressStrip::setProgress);
  connect(worker_, &TrainingWorker::lessonMeasured, this, &MainWindow::lessonMeasured);
  setState(RunState::Preparing);
  thread_->start();
}

void MainWindow::togglePause() {
  if (!worker_) return;
  if (state_ == RunState::Running) {
    worker_->requestPause();
    setState(RunState::Pausing);
  } else if (state_ == RunState::Paused) {
    applyRunChanges();
    worker_->requestResume();
    setState(RunState::Running);
  }
}

void MainWindow::stopTraining() {
  if (!worker_ || state_ == RunState::Stopping || state_ == RunState::Idle) return;
  worker_->requestStop();
  setState(RunState::Stopping);
}

void MainWindow::onPrepared(const QString& data_label, qint64 pairs, qint64 parameters, const QString& model_label) {
  run_data_->setText(tr("%1 · %2 pairs").arg(data_label).arg(pairs));
  run_model_->setText(tr("%1 · %2 parameters").arg(model_label, formatCount(parameters)));
  // A pause requested during preparation is already queued in the worker.
  if (state_ == RunState::Preparing) setState(RunState::Running);
}

void MainWindow::onStep(const MetricRecord& r) {
  if (!progress_->isHidden()) progress_->finish();
  records_.push_back(r);
  steps_done_ = r.step;
  diagnostics_stale_ = true;
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

  status_step_->setText(tr("step %1 / %2").arg(r.step).arg(active_config_.steps));
  status_loss_->setText(tr("loss %1").arg(r.loss, 0, 'f', 4));
  status_accuracy_->setText(tr("accuracy %1").arg(r.rewards_accuracies, 0, 'f', 2));
  // Rate over the last few steps, so a pause does not drag the number down for the whole run.
  constexpr size_t kWindow = 10;
  if (records_.size() >= 2) {
    const auto& first = records_.size() > kWindow ? records_[records_.size() - kWindow - 1] : records_.front();
    const double dt = r.elapsed_seconds - first.elapsed_seconds;
    const double ds = static_cast<double>(r.step - first.step);
    if (dt > 0) status_speed_->setText(tr("%1 steps/s").arg(ds / dt, 0, 'f', 2));
  } else if (r.elapsed_seconds > 0) {
    status_speed_->setText(tr("%1 steps/s").arg(r.step / r.elapsed_seconds, 0, 'f', 2));
  }
  latest_["epoch"]->setText(QString::number(r.epoch + 1));
  latest_["loss"]->setText(QString::number(r.loss, 'f', 4));
  latest_["margin"]->setText(QString::number(r.rewards_margins, 'f', 4));
  latest_["chosen"]->setText(QString::number(r.rewards_chosen, 'f', 4));
  latest_["rejected"]->setText(QString::number(r.rewards_rejected, 'f', 4));
  latest_["accuracy"]->setText(QString::number(r.rewards_accuracies, 'f', 3));
  latest_["beta"]->setText(QString::number(r.beta, 'g', 4));
  latest_["grad_norm"]->setText(QString::number(r.grad_norm, 'g', 4));
  latest_["lr"]->setText(QString::number(r.learning_rate, 'g', 4));
  latest_["tokens"]->setText(formatCount(r.tokens));
  Q_EMIT stepRecorded(r);
}

void MainWindow::onPaused(qint64 steps_done) {
  stepping_ = false;
  // Running too: the worker pauses by itself with pause_after.
  if (state_ == RunState::Pausing || state_ == RunState::Running || state_ == RunState::Paused)
    setState(RunState::Paused);
  status_step_->setText(tr("step %1 / %2").arg(steps_done).arg(active_config_.steps));
  refreshRuns();  // the current run's row: steps and accuracy so far
  Q_EMIT runPaused(steps_done);
}

void MainWindow::stepOnce() {
  if (!worker_ || state_ != RunState::Paused || stepping_) return;
  applyRunChanges();
  stepping_ = true;
  worker_->requestStep();
  setState(RunState::Paused);
}

void MainWindow::evaluateNow() {
  if (worker_ && state_ != RunState::Stopping) worker_->requestEvaluation();
}

void MainWindow::applyRunChanges() {
  if (!worker_ || state_ != RunState::Paused) return;
  // Spin boxes round to their decimals, so compare at that precision.
  const auto differs = [](double a, double b) { return std::abs(a - b) > 1e-9 * std::max(1.0, std::abs(b)); };
  if (differs(beta_spin_->value(), active_config_.beta)) {
    active_config_.beta = beta_spin_->value();
    worker_->requestBeta(active_config_.beta);
  }
  if (differs(lr_spin_->value(), active_config_.learning_rate)) {
    active_config_.learning_rate = lr_spin_->value();
    worker_->requestLearningRate(active_config_.learning_rate);
  }
}

void MainWindow::showInspector(bool on) { tabs_->setCurrentIndex(on ? tabs_->indexOf(inspector_) : 0); }

void MainWindow::buildEventDock() {
  auto* dock = new QDockWidget(tr("Run log"), this);
  dock->setObjectName("eventDock");
  dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable |
                    QDockWidget::DockWidgetClosable);
  event_log_ = new QListWidget(dock);
  event_log_->setObjectName("eventLog");
  event_log_->setMaximumHeight(150);  // a few lines; the findings above need the room
  event_log_->setToolTip(tr("Changes made during the run (β, learning rate) and steps the trainer skipped; each "
                            "is marked on the plots."));
  dock->setWidget(event_log_);
  addDockWidget(Qt::RightDockWidgetArea, dock);
  resizeDocks({dock}, {120}, Qt::Vertical);
}

void MainWindow::onEval(const EvalRecord& e) {
  evals_.push_back(e);
  diagnostics_stale_ = true;
  const double x = static_cast<double>(e.step);
  margin_plot_->addPoint(eval_margin_, x, e.margin);
  margin_plot_->addPoint(eval_accuracy_, x, e.accuracy);
  if (e.beta > 0) {
    logratio_plot_->addPoint(eval_chosen_, x, e.rewards_chosen / e.beta);
    logratio_plot_->addPoint(eval_rejected_, x, e.rewards_rejected / e.beta);
  }
  loss_plot_->addPoint(eval_loss_, x, e.loss);
  if (std::isfinite(e.sampled_length)) length_plot_->addPoint(sampled_length_, x, e.sampled_length);
  if (std::isfinite(e.sampled_kl)) logratio_plot_->addPoint(sampled_kl_, x, e.sampled_kl);
  inspector_->addEval(e);
  Q_EMIT evalRecorded(e);
}

void MainWindow::onEvent(const RunEventRecord& e) {
  events_.push_back(e);
  QString label = e.kind;
  if (e.kind == "beta") label = tr("β → %1").arg(e.value, 0, 'g', 4);
  else if (e.kind == "learning_rate") label = tr("lr → %1").arg(e.value, 0, 'g', 3);
  const QString line = e.kind == "beta" || e.kind == "learning_rate"
                           ? tr("after step %1: %2 (from step %3 on)").arg(e.step).arg(label).arg(e.step + 1)
                           : tr("step %1: %2").arg(e.step).arg(e.message.isEmpty() ? e.kind : QString(e.message));
  event_log_->addItem(line);
  event_log_->scrollToBottom();
  statusBar()->showMessage(line, 8000);
  // Between the last step with the old value and the first with the new one.
  for (auto* plot : plots()) plot->addMarker(static_cast<double>(e.step) + 0.5, label);
  Q_EMIT eventRecorded(e);
}

void MainWindow::onPairTokens(const PairTokensRecord& tokens) {
  inspector_->setPairTokens(tokens);
  if (inspector_->selectedLine() == tokens.line) Q_EMIT pairTokensShown(tokens.line);
}

void MainWindow::onFailed(const QString& message) {
  run_failed_ = true;
  last_error_ = message;
  qWarning().noquote() << "dpo-studio: training failed:" << message;
  if (interactive_errors_) {
    const auto& c = active_config_;
    const QString details =
        tr("Run settings: loss %1, β %2, learning rate %3, batch %4, %5 steps\nData: %6\nModel: %7\nSteps done: %8")
            .arg(c.loss_name)
            .arg(c.beta)
            .arg(c.learning_rate)
            .arg(c.batch_size)
            .arg(c.steps)
            .arg(c.data_path.isEmpty() ? tr("embedded demo") : c.data_path)
            .arg(c.model_dir.isEmpty() ? tr("embedded demo model") : c.model_dir)
            .arg(steps_done_);
    widgets::makeErrorDialog(this, tr("Training failed"), message,
                    tr("The plots, the run log and the run folder keep everything recorded so far."), details)
        ->open();
  }
  statusBar()->showMessage(message.section('\n', 0, 0), 15000);
}

void MainWindow::onFinished(qint64 steps_done, bool stopped) {
  joinWorker();
  progress_->finish();
  stepping_ = false;
  inspector_->setTokensAvailable(false);
  if (steps_done > steps_done_) steps_done_ = steps_done;
  setState(RunState::Idle);
  if (stopped) status_state_->setText(tr("Stopped"));
  flushPlots();
  diagnose_timer_.stop();
  refreshDiagnostics();
  Q_EMIT runFinished(steps_done_, stopped, run_failed_);
}

void MainWindow::joinWorker() {
  if (!thread_) return;
  // run() has returned or returns within one step (stop requested); the loop then exits.
  thread_->quit();
  thread_->wait();
  delete worker_;
  worker_ = nullptr;
  delete thread_;
  thread_ = nullptr;
}

void MainWindow::closeEvent(QCloseEvent* event) {
  saveSettings();
  if (worker_) {
    worker_->requestStop();
    setState(RunState::Stopping);
    QApplication::setOverrideCursor(Qt::WaitCursor);
    joinWorker();
    QApplication::restoreOverrideCursor();
  }
  event->accept();
}

// ---- Runs (issue 7): run directories, read-only views, comparison, resume ----

namespace {
// Okabe–Ito again, one colour per compared run.
const QColor kRunColours[] = {QColor(0x00, 0x72, 0xB2), QColor(0xD5, 0x5E, 0x00), QColor(0x00, 0x9E, 0x73),
                              QColor(0xCC, 0x79, 0xA7), QColor(0xE6, 0x9F, 0x00), QColor(0x56, 0xB4, 0xE9),
                              QColor(0x00, 0x00, 0x00), QColor(0xF0, 0xE4, 0x42)};

// The form's view of a run's settings.
StudioRunConfig configFor(StudioRunConfig c, const RunSummary& run) {
  c.data_path = run.settings.value("data");
  c.columns = run.settings.value("columns");
  if (!run.loss.isEmpty()) c.loss_name = run.loss;
  if (run.beta > 0) c.beta = run.beta;
  if (run.learning_rate > 0) c.learning_rate = run.learning_rate;
  if (run.steps_total > 0) c.steps = run.steps_total;
  c.batch_size = run.settings.value("trainer.per_device_train_batch_size", QString::number(c.batch_size)).toLongLong();
  c.eval_every = run.settings.value("trainer.eval_steps", QString::number(c.eval_every)).toLongLong();
  return c;
}

QMenu* menuTitled(QMenuBar* bar, const QString& title) {
  for (QAction* a : bar->actions())
    if (a->menu() && a->text() == title) return a->menu();
  return bar->addMenu(title);
}
}  // namespace

QLayout* MainWindow::buildRunControls(QWidget* parent) {
  auto* column = new QVBoxLayout;
  auto* row = new QHBoxLayout;
  checkpoint_button_ = new QPushButton(style()->standardIcon(QStyle::SP_DialogSaveButton), tr("Save checkpoint"), parent);
  checkpoint_button_->setObjectName("saveCheckpointButton");
  checkpoint_button_->setToolTip(tr("Write a resumable checkpoint of the run now: after the step in progress, or at "
                                    "once while paused. Stop and the end of a run write one too  [Ctrl+S]"));
  resume_run_button_ = new QPushButton(style()->standardIcon(QStyle::SP_MediaPlay), tr("Resume run"), parent);
  resume_run_button_->setObjectName("resumeRunButton");
  resume_run_button_->setToolTip(tr("Continue this run from its newest checkpoint, with its own settings"));
  new_run_button_ = new QPushButton(tr("New run"), parent);
  new_run_button_->setObjectName("newRunButton");
  new_run_button_->setToolTip(tr("Leave this run's read-only view and set up a new run"));
  for (auto* b : {checkpoint_button_, resume_run_button_, new_run_button_}) {
    b->setMinimumHeight(26);
    row->addWidget(b);
  }
  connect(checkpoint_button_, &QPushButton::clicked, this, &MainWindow::saveCheckpoint);
  connect(resume_run_button_, &QPushButton::clicked, this, [this] { resumeRun(); });
  connect(new_run_button_, &QPushButton::clicked, this, &MainWindow::leaveRunView);
  column->addLayout(row);
  run_dir_label_ = new QLabel(parent);
  run_dir_label_->setObjectName("runDirLabel");
  run_dir_label_->setWordWrap(true);
  run_dir_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  run_dir_label_->setStyleSheet("color: #7a8594;");
  run_dir_label_->setText(tr("Each run is saved in a run folder (View ▸ Runs)."));
  column->addWidget(run_dir_label_);
  return column;
}

void MainWindow::buildRunsDock() {
  runs_root_ = defaultRunsRoot();
  auto* dock = new QDockWidget(tr("Runs"), this);
  dock->setObjectName("runsDock");
  dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable |
                    QDockWidget::DockWidgetClosable);
  runs_panel_ = new widgets::RunsPanel(dock);
  runs_panel_->setObjectName("runsPanel");
  dock->setWidget(runs_panel_);
  addDockWidget(Qt::BottomDockWidgetArea, dock);
  resizeDocks({dock}, {170}, Qt::Vertical);
  connect(runs_panel_, &widgets::RunsPanel::runActivated, this, [this](const QString& dir) { viewRun(dir); });
  connect(runs_panel_, &widgets::RunsPanel::compareChanged, this, [this](const QStringList& dirs) {
    if (syncing_compare_) return;
    setCompareRuns(dirs);
    if (!dirs.isEmpty()) tabs_->setCurrentWidget(compare_tab_);
  });
  connect(runs_panel_, &widgets::RunsPanel::openRequested, this, &MainWindow::chooseRunDirectory);
  connect(runs_panel_, &widgets::RunsPanel::refreshRequested, this, &MainWindow::refreshRuns);
  connect(this, &MainWindow::runFinished, this, [this] {
    refreshRuns();
    updateRunControls();
  });

  // The Compare tab: the checked runs overlaid, rebuilt whenever the selection changes.
  compare_tab_ = new QWidget(tabs_);
  compare_tab_->setObjectName("compareTab");
  auto* outer = new QVBoxLayout(compare_tab_);
  outer->setContentsMargins(4, 6, 8, 4);
  compare_note_ = new QLabel(compare_tab_);
  compare_note_->setWordWrap(true);
  compare_note_->setStyleSheet("color: #5f6b7a;");
  outer->addWidget(compare_note_);
  compare_area_ = new QWidget(compare_tab_);
  auto* grid = new QGridLayout(compare_area_);
  grid->setContentsMargins(0, 0, 0, 0);
  grid->setSpacing(8);
  outer->addWidget(compare_area_, 1);
  tabs_->insertTab(2, compare_tab_, tr("Compare"));  // next to the other plots
  tabs_->setTabToolTip(tabs_->indexOf(compare_tab_),
                       tr("Runs ticked in the Runs list, overlaid: one colour per run, named by what differs"));
  connect(smoothing_slider_, &QSlider::valueChanged, this, [this](int percent) {
    for (auto* plot : std::as_const(compare_plots_)) plot->setSmoothing(percent / 100.0);
  });
  rebuildComparePlots();
  refreshRuns();
}

void MainWindow::buildRunsActions() {
  QMenu* file = menuTitled(menuBar(), tr("&File"));
  auto* open_run = new QAction(tr("Open &run…"), this);
  open_run->setShortcut(QKeySequence::Open);
  open_run->setToolTip(tr("Open a run directory read-only (the studio's or one `dpo train` wrote)"));
  connect(open_run, &QAction::triggered, this, &MainWindow::chooseRunDirectory);
  const auto file_actions = file->actions();
  file->insertAction(file_actions.size() > 1 ? file_actions[1] : nullptr, open_run);
  if (auto* dock = findChild<QDockWidget*>("runsDock")) menuTitled(menuBar(), tr("&View"))->addAction(dock->toggleViewAction());
  QMenu* run = menuTitled(menuBar(), tr("&Run"));
  run->addSeparator();
  run->addAction(tr("Save &checkpoint"), QKeySequence::Save, this, &MainWindow::saveCheckpoint);
  run->addAction(tr("Resume the viewed r&un"), this, [this] { resumeRun(); });
}

void MainWindow::updateRunControls() {
  if (!checkpoint_button_) return;
  const bool idle = state_ == RunState::Idle;
  checkpoint_button_->setEnabled(worker_ != nullptr && (state_ == RunState::Running || state_ == RunState::Pausing ||
                                                        state_ == RunState::Paused));
  const bool viewing = isViewingRun();
  const bool can_continue = viewing && viewed_summary_.resumable &&
                            (viewed_summary_.steps_total <= 0 || viewed_summary_.checkpoint_step < viewed_summary_.steps_total);
  resume_run_button_->setVisible(viewing && viewed_summary_.resumable);
  resume_run_button_->setEnabled(idle && can_continue);
  resume_run_button_->setToolTip(can_continue ? tr("Continue this run from its checkpoint at step %1 (of %2)")
                                                    .arg(viewed_summary_.checkpoint_step)
                                                    .arg(viewed_summary_.steps_total)
                                              : tr("This run's newest checkpoint is its last step"));
  new_run_button_->setVisible(viewing);
  new_run_button_->setEnabled(idle);
  if (viewing && idle) {
    start_button_->setEnabled(false);
    settings_box_->setEnabled(false);
    status_state_->setText(tr("Viewing %1 (read-only)").arg(viewed_summary_.name));
  }
}

void MainWindow::beginRun() {
  active_config_.runs_root = runs_root_;
  active_config_.resume_dir = std::exchange(pending_resume_, QString());
  viewed_run_.clear();
  viewed_summary_ = {};
  current_run_dir_.clear();
  checkpoint_requested_ = false;
  run_dir_label_->setText(active_config_.resume_dir.isEmpty() ? tr("Run folder: created once the data is ready")
                                                              : tr("Resuming %1").arg(active_config_.resume_dir));
}

void MainWindow::preloadResumedRun() {
  if (active_config_.resume_dir.isEmpty()) return;
  const auto summary = summarizeRun(active_config_.resume_dir);
  showRunRecords(active_config_.resume_dir, summary.checkpoint_step);
  inspector_->setTokensAvailable(true);
  status_step_->setText(tr("step %1 / %2").arg(summary.checkpoint_step).arg(active_config_.steps));
}

void MainWindow::connectRunDirectory(TrainingWorker* worker) {
  connect(worker, &TrainingWorker::runDirectoryReady, this, &MainWindow::onRunDirectoryReady);
  connect(worker, &TrainingWorker::checkpointSaved, this, &MainWindow::onCheckpointSaved);
}

void MainWindow::showRunRecords(const QString& dir, qint64 up_to_step) {
  const auto run = loadRunRecords(dir, up_to_step);
  if (!run.error.isEmpty()) {
    last_error_ = run.error;
    statusBar()->showMessage(run.error, 15000);
    qWarning().noquote() << "dpo-studio:" << run.error;
  }
  for (const auto& m : run.metrics) onStep(m);
  for (const auto& e : run.evals) onEval(e);
  for (const auto& e : run.events) onEvent(e);
  flushPlots();
  refreshDiagnostics();
}

bool MainWindow::viewRun(const QString& dir_in) {
  if (thread_) {
    last_error_ = tr("Stop the current run before opening another one.");
    statusBar()->showMessage(last_error_, 8000);
    return false;
  }
  const QString dir = QFileInfo(dir_in).absoluteFilePath();
  const auto summary = summarizeRun(dir);
  if (!summary.error.isEmpty()) {
    last_error_ = summary.error;
    statusBar()->showMessage(summary.error, 15000);
    return false;
  }
  // Cleared as for a new run, then filled from the files.
  records_.clear();
  evals_.clear();
  events_.clear();
  event_log_->clear();
  inspector_->clear();
  steps_done_ = 0;
  run_failed_ = false;
  last_error_.clear();
  for (auto* plot : plots()) plot->clear();
  diagnostics_->clear();
  status_loss_->clear();
  status_accuracy_->clear();
  status_speed_->clear();
  for (auto* value : std::as_const(latest_)) value->setText(tr("—"));
  const auto form = configFor(runConfig(), summary);
  setRunConfig(form);
  active_config_ = form;
  viewed_run_ = dir;
  viewed_summary_ = summary;
  current_run_dir_ = dir;
  run_data_->setText(form.data_path.isEmpty() ? tr("embedded demo") : form.data_path);
  run_model_->setText(summary.settings.value("model").isEmpty() ? tr("demo model") : summary.settings.value("model"));
  run_dir_label_->setText(tr("Run folder: %1").arg(dir));
  showRunRecords(dir, -1);
  inspector_->setTokensAvailable(false);  // no model loaded: token heatmaps need a live run
  status_step_->setText(tr("step %1 / %2").arg(summary.steps_done).arg(summary.steps_total));
  runs_panel_->setCurrentRun(dir);
  setState(RunState::Idle);
  Q_EMIT runViewed(dir);
  return true;
}

void MainWindow::leaveRunView() {
  if (!isViewingRun() || thread_) return;
  viewed_run_.clear();
  viewed_summary_ = {};
  records_.clear();
  evals_.clear();
  events_.clear();
  event_log_->clear();
  inspector_->clear();
  for (auto* plot : plots()) plot->clear();
  diagnostics_->clear();
  steps_done_ = 0;
  runs_panel_->setCurrentRun({});
  run_dir_label_->setText(tr("Each run is saved in a run folder (View ▸ Runs)."));
  setState(RunState::Idle);
}

bool MainWindow::openRun(const QString& dir_in) {
  const QString dir = QFileInfo(dir_in).absoluteFilePath();
  if (!QFileInfo::exists(dir + "/config.json")) {
    last_error_ = tr("%1: not a run directory (no config.json)").arg(dir);
    statusBar()->showMessage(last_error_, 15000);
    return false;
  }
  if (!opened_runs_.contains(dir)) opened_runs_.push_back(dir);
  refreshRuns();
  return viewRun(dir);
}

void MainWindow::chooseRunDirectory() {
  const QString dir = QFileDialog::getExistingDirectory(this, tr("Open a run directory"), runs_root_);
  if (dir.isEmpty()) return;
  if (!openRun(dir) && interactive_errors_) {
    auto* box = new QMessageBox(QMessageBox::Warning, tr("Cannot open the run"), last_error_, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
  }
}

void MainWindow::resumeRun(const QString& dir_in) {
  const QString dir = dir_in.isEmpty() ? viewed_run_ : QFileInfo(dir_in).absoluteFilePath();
  if (dir.isEmpty() || thread_ || state_ != RunState::Idle) return;
  const auto summary = summarizeRun(dir);
  if (!summary.resumable) {
    last_error_ = tr("%1: no checkpoint to resume from").arg(dir);
    statusBar()->showMessage(last_error_, 15000);
    return;
  }
  setRunConfig(configFor(runConfig(), summary));
  pending_resume_ = dir;
  startTraining();
}

void MainWindow::setRunsRoot(const QString& root) {
  runs_root_ = root;
  refreshRuns();
}

void MainWindow::refreshRuns() {
  QList<RunSummary> runs = listRuns(runs_root_);
  QStringList listed;
  for (const auto& run : runs) listed.push_back(run.dir);
  for (const auto& dir : std::as_const(opened_runs_))
    if (!listed.contains(dir) && QFileInfo::exists(dir + "/config.json")) runs.push_back(summarizeRun(dir));
  syncing_compare_ = true;
  runs_panel_->setRuns(runs);
  syncing_compare_ = false;
  runs_panel_->setRootText(tr("Runs folder: %1").arg(runs_root_));
  for (const auto& run : runs)
    if (run.dir == viewed_run_) viewed_summary_ = run;
}

void MainWindow::setCompareRuns(const QStringList& dirs_in) {
  QStringList dirs;
  for (const auto& d : dirs_in) dirs.push_back(QFileInfo(d).absoluteFilePath());
  bool unlisted = false;
  for (const auto& d : std::as_const(dirs))
    if (runs_panel_->indexOf(d) < 0 && !opened_runs_.contains(d)) {
      opened_runs_.push_back(d);
      unlisted = true;
    }
  if (unlisted) refreshRuns();
  syncing_compare_ = true;
  for (const auto& run : runs_panel_->runs()) runs_panel_->setChecked(run.dir, dirs.contains(run.dir));
  syncing_compare_ = false;
  if (dirs == compare_runs_ && !compare_plots_.isEmpty()) return;
  compare_runs_ = dirs;
  rebuildComparePlots();
}

void MainWindow::rebuildComparePlots() {
  using widgets::MetricPlot;
  qDeleteAll(compare_plots_);
  compare_plots_.clear();
  QList<RunSummary> summaries;
  std::vector<std::vector<MetricRecord>> metrics;
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
    double (*value)(const MetricRecord&);
    std::optional<double> reference;
  };
  const Spec specs[] = {
      {"compareMarginPlot", tr("Implicit reward margin (rewards/margins)"), tr("Higher and rising: the runs separate chosen from rejected."),
       tr("β · (chosen − rejected log-ratio)  [nats]"), [](const MetricRecord& r) { return r.rewards_margins; }, 0.0},
      {"compareAccuracyPlot", tr("Preference accuracy (rewards/accuracies)"), tr("Share of pairs ranked right in each batch."),
       tr("accuracy  [share of pairs]"), [](const MetricRecord& r) { return r.rewards_accuracies; }, std::nullopt},
      {"compareLossPlot", tr("Loss"), tr("Starts at ln 2 for DPO; compare how fast each run falls."), tr("loss  [nats]"),
       [](const MetricRecord& r) { return r.loss; }, 0.69314718},
      {"compareChosenPlot", tr("Chosen log-ratio"), tr("log π − log π_ref of the chosen answers: falling means chosen got less likely."),
       tr("log π(y_w|x) − log π_ref(y_w|x)  [nats]"), [](const MetricRecord& r) { return r.logratio_chosen(); }, 0.0},
  };
  auto* grid = static_cast<QGridLayout*>(compare_area_->layout());
  int k = 0;
  for (const auto& spec : specs) {
    auto* plot = new MetricPlot(compare_area_);
    plot->setObjectName(QString::fromUtf8(spec.name));
    plot->setTitle(spec.title);
    plot->setCaption(spec.caption);
    plot->setAxisLabels(tr("step"), spec.y);
    if (spec.reference) plot->setReferenceLine(*spec.reference);
    for (int i = 0; i < compare_runs_.size(); ++i) {
      const int series = plot->addSeries(compare_labels_.value(i), kRunColours[i % std::size(kRunColours)]);
      for (const auto& r : metrics[static_cast<size_t>(i)]) plot->addPoint(series, static_cast<double>(r.step), spec.value(r));
    }
    plot->setSmoothing(smoothing_slider_->value() / 100.0);
    grid->addWidget(plot, k / 2, k % 2);
    compare_plots_.push_back(plot);
    ++k;
  }
  for (auto* plot : std::as_const(compare_plots_)) plot->flush();
  QString note = compare_runs_.isEmpty()
                     ? tr("Tick runs in the Runs list (View ▸ Runs) to overlay them here: one colour per run, each "
                          "named by the settings in which the runs differ.")
                     : tr("%n run(s) overlaid; each is named by the settings in which they differ.", nullptr,
                          static_cast<int>(compare_runs_.size()));
  if (!errors.isEmpty()) note += "\n" + errors.join("\n");
  compare_note_->setText(note);
}

void MainWindow::saveCheckpoint() {
  if (!worker_ || !(state_ == RunState::Running || state_ == RunState::Pausing || state_ == RunState::Paused)) return;
  checkpoint_requested_ = true;
  worker_->requestCheckpoint();
  statusBar()->showMessage(state_ == RunState::Paused ? tr("Saving a checkpoint…")
                                                      : tr("Saving a checkpoint after the step in progress…"),
                           8000);
}

void MainWindow::onRunDirectoryReady(const QString& dir, qint64 resumed_from_step) {
  current_run_dir_ = dir;
  run_dir_label_->setText(tr("Run folder: %1").arg(dir));
  run_dir_label_->setToolTip(dir);
  if (resumed_from_step >= 0) {
    event_log_->addItem(tr("resumed from the checkpoint at step %1").arg(resumed_from_step));
    event_log_->scrollToBottom();
  }
  refreshRuns();
  runs_panel_->setCurrentRun(dir);
  Q_EMIT runDirectoryReady(dir, resumed_from_step);
}

void MainWindow::onCheckpointSaved(qint64 step, const QString& path, const QString& error) {
  const bool requested = std::exchange(checkpoint_requested_, false);
  if (!error.isEmpty()) {
    const QString line = tr("step %1: checkpoint failed: %2").arg(step).arg(error);
    statusBar()->showMessage(line, 15000);
    event_log_->addItem(line);
    qWarning().noquote() << "dpo-studio:" << line;
  } else {
    statusBar()->showMessage(tr("Checkpoint at step %1 saved in %2").arg(step).arg(path), 8000);
    if (requested) {
      event_log_->addItem(tr("step %1: checkpoint saved").arg(step));
      event_log_->scrollToBottom();
    }
  }
  refreshRuns();
  Q_EMIT checkpointSaved(step, path, error);
}

}  // namespace dpo::studio
