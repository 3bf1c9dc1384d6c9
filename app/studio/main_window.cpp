#include "app/studio/main_window.h"

#include <QApplication>
#include <QCloseEvent>
#include <QDateTime>
#include <QDebug>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QKeyEvent>
#include <QLabel>
#include <QListWidget>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QScreen>
#include <QScrollArea>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QStyle>
#include <QTabWidget>
#include <QTimer>
#include <QToolBar>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <utility>

#include "app/session/run_records.h"
#include "app/studio/about_dialog.h"
#include "app/studio/dataset_preview.h"
#include "app/studio/diagnostics_feed.h"
#include "app/studio/lesson_controller.h"
#include "app/studio/presentation.h"
#include "app/studio/qt_text.h"
#include "app/studio/rank_controller.h"
#include "app/studio/run_catalog.h"
#include "app/studio/run_panel.h"
#include "app/studio/runs_browser.h"
#include "app/studio/settings_panel.h"
#include "app/studio/setup_actions.h"
#include "app/studio/status_bar.h"
#include "app/studio/sweep_controller.h"
#include "app/studio/synth_controller.h"
#include "app/studio/training_plots.h"
#include "core/eval/beta_explorer.h"
#include "core/runtime/error.h"
#include "widgets/beta_explorer_view.h"
#include "widgets/dataset_panel.h"
#include "widgets/diagnostics_panel.h"
#include "widgets/error_dialog.h"
#include "widgets/metric_plot.h"
#include "widgets/pair_inspector.h"
#include "widgets/playground_panel.h"
#include "widgets/progress_strip.h"
#include "widgets/rank_view.h"
#include "widgets/runs_panel.h"
#include "widgets/sweep_view.h"
#include "widgets/synth_pairs_dialog.h"

namespace dpo::studio {

namespace {
// The form's view of a run's settings.
StudioRunConfig configFor(StudioRunConfig c, const RunSummary& run) {
  c.run.data_path = run.settings.value("data").toStdString();
  c.run.columns = run.settings.value("columns").toStdString();
  if (const auto loss = parse_loss_type(run.loss.toStdString())) c.run.trainer.loss.type = *loss;
  // β as the run left it (changed while paused): what a resume trains with.
  if (run.beta > 0) c.run.trainer.loss.beta = run.latestBeta();
  if (run.learning_rate > 0) c.run.trainer.learning_rate = run.learning_rate;
  if (run.steps_total > 0) c.run.trainer.max_steps = run.steps_total;
  c.run.trainer.batch_size =
      run.settings.value("trainer.per_device_train_batch_size", QString::number(c.run.trainer.batch_size))
          .toLongLong();
  c.run.trainer.eval_every =
      run.settings.value("trainer.eval_steps", QString::number(c.run.trainer.eval_every)).toLongLong();
  return c;
}

QDockWidget* makeDock(QMainWindow* window, const QString& title, const char* name, QWidget* content) {
  auto* dock = new QDockWidget(title, window);
  dock->setObjectName(name);
  dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable |
                    QDockWidget::DockWidgetClosable);
  dock->setWidget(content);
  return dock;
}
}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  setWindowTitle(tr("DPO Studio"));
  run_ = new RunController(this);
  progress_clock_.start();
  controls_ = new RunControls(this);
  auto* toolbar = addToolBar(tr("Run controls"));
  toolbar->setObjectName("runToolbar");
  toolbar->setMovable(false);
  toolbar->addWidget(controls_);
  runs_ = new RunsBrowser(this);

  auto* splitter = new QSplitter(Qt::Horizontal, this);
  auto* scroll = new QScrollArea(splitter);
  scroll->setWidget(buildLeftColumn());
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  const int panel_width =
      std::max(scroll->widget()->minimumWidth(), scroll->widget()->minimumSizeHint().width()) +
      scroll->style()->pixelMetric(QStyle::PM_ScrollBarExtent) + 4;
  scroll->setMinimumWidth(panel_width);
  splitter->addWidget(scroll);
  tabs_ = new QTabWidget(splitter);
  tabs_->setObjectName("centralTabs");
  buildCentre();
  splitter->addWidget(tabs_);
  splitter->setStretchFactor(0, 0);
  splitter->setStretchFactor(1, 1);
  splitter->setCollapsible(0, false);
  splitter->setCollapsible(1, false);
  splitter->setSizes({panel_width, 1500 - panel_width});
  setCentralWidget(splitter);
  buildDocks();
  status_ = new StatusLine(statusBar());
  diagnostics_ = new DiagnosticsFeed(run_, diagnostics_panel_, this);
  buildMenus();
  connectRun();
  new LessonController(this);  // the Lessons menu and dock (issue 8); a child of the window
  new SetupActions(this);      // File ▸ Open/Save setup…, Run ▸ Copy run setup (issue 18)
  new Presentation(this);      // View ▸ Presentation and the zoom keys (issue 18)
  addHelpMenu(this);           // last in the menu bar
  setRunConfig({});            // RunOptions' defaults: the studio and `dpo train` start from the same place
  updateControls();
  showState();
  fitToScreen(QSize(1500, 940));
}

const QScreen* MainWindow::currentScreen() const {
  return this->screen() ? this->screen() : QGuiApplication::primaryScreen();
}

bool MainWindow::smallScreen() const {
  const QScreen* screen = currentScreen();
  return screen && screen->availableGeometry().height() < 900;
}

QString MainWindow::layoutKey(const char* what) const {
  // A laptop and a large monitor keep their own layouts: the docks are arranged differently.
  return QStringLiteral("window/%1%2").arg(QLatin1String(what), smallScreen() ? "-small" : "");
}

void MainWindow::fitToScreen(QSize wanted) {
  const QScreen* screen = currentScreen();
  if (!screen) return resize(wanted);
  const QRect room = screen->availableGeometry();
  // The frame (title bar, borders) is not known before the window is shown: keep a margin for it.
  const QSize most(room.width() - 16, room.height() - 40);
  resize(wanted.boundedTo(most).expandedTo(minimumSizeHint().boundedTo(most)));
  if (!room.contains(frameGeometry())) move(room.topLeft());
}

MainWindow::~MainWindow() { run_->shutdown(); }

QWidget* MainWindow::buildLeftColumn() {
  auto* panel = new QWidget;
  auto* layout = new QVBoxLayout(panel);
  layout->setContentsMargins(8, 8, 8, 8);
  layout->setSpacing(10);
  settings_ = new SettingsPanel(panel);
  layout->addWidget(settings_);
  facts_ = new RunFacts(panel);
  layout->addWidget(facts_);
  auto* hint =
      new QLabel(tr("Plots: hover for exact values, drag to pan, wheel to zoom, double-click to fit; "
                    "right-click for a log scale and PNG/CSV export."),
                 panel);
  hint->setWordWrap(true);
  hint->setStyleSheet("color: #7a8594;");
  layout->addWidget(hint);
  layout->addStretch(1);
  panel->setMinimumWidth(300);
  return panel;
}

void MainWindow::buildCentre() {
  plots_ = new TrainingPlots(tabs_);
  tabs_->addTab(plots_, tr("Training"));
  inspector_ = new widgets::PairInspector(tabs_);
  inspector_->setObjectName("pairInspector");
  tabs_->addTab(inspector_, tr("Pair inspector"));
  tabs_->setTabToolTip(
      1, tr("The eval pairs at the latest evaluation: which are mis-ranked, and which tokens drove them"));
  tabs_->addTab(runs_->compareTab(), tr("Compare"));
  tabs_->setTabToolTip(
      2, tr("Runs ticked in the Runs list, overlaid: one colour per run, named by what differs"));
  runs_->setSmoothing(plots_->smoothingSlider()->value() / 100.0);
  tabs_->addTab(plots_->optimiserPlot(), tr("Optimiser"));
  tabs_->setTabToolTip(3, tr("Gradient norm before clipping and the learning rate schedule, per step"));
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
  // Token counts come from the Model box's tokenizer, truncation warnings from the max lengths: the
  // preview reloads when the data, the model or a limit changes (validityChanged follows every edit).
  connect(data_debounce, &QTimer::timeout, this, [this] {
    const auto run = settings_->runConfig().run;
    const auto& t = run.tokenize;
    const QString model = QString::fromStdString(run.model_dir);
    const QString key = QStringLiteral("%1\n%2\n%3 %4 %5 %6")
                            .arg(QString::fromStdString(run.data_path), model)
                            .arg(t.max_length)
                            .arg(t.max_prompt_length)
                            .arg(t.max_completion_length)
                            .arg(static_cast<int>(t.prompt_truncation));
    if (dataset_panel_->property("previewKey").toString() == key) return;
    dataset_panel_->setProperty("previewKey", key);
    dataset_panel_->setLoader([model, t](const QString& path, const QMap<QString, QString>& columns) {
      return loadDatasetPreview(path, columns, model, t);
    });
    dataset_panel_->load(QString::fromStdString(run.data_path));
  });
  connect(settings_, &SettingsPanel::dataPathChanged, data_debounce, qOverload<>(&QTimer::start));
  connect(settings_, &SettingsPanel::validityChanged, data_debounce, qOverload<>(&QTimer::start));
  data_debounce->start();  // the embedded demo (or the configured file) at start-up
  // β explorer tab (issue 14): the latest evaluation's pairs under every β, without training.
  beta_explorer_ = new widgets::BetaExplorerView(tabs_);
  beta_explorer_->setObjectName("betaExplorer");
  tabs_->addTab(beta_explorer_, tr("β explorer"));
  tabs_->setTabToolTip(tabs_->count() - 1,
                       tr("Slide β over the latest eval pairs: how hard each would still pull, how many are "
                          "saturated"));
  // Sweep tab (issue 14): β × loss runs by `dpo sweep`, a heatmap and small multiples; a click opens a run.
  sweep_view_ = new widgets::SweepView(tabs_);
  sweep_view_->setObjectName("sweepView");
  sweep_ = new SweepController(sweep_view_, this);
  tabs_->addTab(sweep_view_, tr("Sweep"));
  tabs_->setTabToolTip(tabs_->count() - 1,
                       tr("Short runs over β × loss from the same start: which β to use, and why"));
  connect(sweep_view_, &widgets::SweepView::startRequested, this, &MainWindow::startSweep);
  connect(sweep_view_, &widgets::SweepView::openRequested, this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Open a sweep folder"), runs_->runsRoot());
    if (!dir.isEmpty()) sweep_->open(dir);
  });
  connect(sweep_view_, &widgets::SweepView::runRequested, this, [this](const QString& dir) {
    if (openRun(dir)) tabs_->setCurrentIndex(0);
  });
  // Rank tab (issue 14): models or a run's checkpoints on the same pairs; a click shows a model's misses.
  rank_view_ = new widgets::RankView(tabs_);
  rank_view_->setObjectName("rankView");
  rank_ = new RankController(rank_view_, this);
  tabs_->addTab(rank_view_, tr("Rank"));
  tabs_->setTabToolTip(
      tabs_->count() - 1,
      tr("Models or a run's checkpoints scored on the same pairs, with confidence intervals"));
  connect(rank_view_, &widgets::RankView::rankRequested, this, [this] { startRank(false); });
  connect(rank_view_, &widgets::RankView::rankRunRequested, this, [this] { startRank(true); });
  connect(rank_view_, &widgets::RankView::pairsRequested, this, &MainWindow::showRankedPairs);
  // Synthetic pairs (issue 14): the model's own samples, scored and paired by `dpo pairs`.
  synth_dialog_ = new widgets::SynthPairsDialog(this);
  synth_dialog_->setObjectName("synthPairsDialog");
  synth_ = new SynthController(synth_dialog_, this);
  connect(synth_dialog_, &widgets::SynthPairsDialog::generateRequested, this, [this] {
    const QString root = runs_->runsRoot().isEmpty() ? defaultRunsRoot() : runs_->runsRoot();
    synth_model_ = synth_dialog_->fromLastRun() ? current_run_dir_ + "/final"
                                                : QString::fromStdString(runConfig().run.model_dir);
    synth_->generate(synth_model_, root + "/synthetic");
  });
  connect(synth_dialog_, &widgets::SynthPairsDialog::trainRequested, this, [this](const QString& file) {
    auto c = runConfig();
    c.run.data_path = file.toStdString();
    // The next round starts from the model that answered; its frozen copy is the reference.
    if (!synth_model_.isEmpty()) c.run.model_dir = synth_model_.toStdString();
    setRunConfig(c);
    synth_dialog_->hide();
    status_->setStateText(tr("Dataset: %1 — press Start to train on the synthetic pairs").arg(file));
  });
  // Playground tab (issue 7): policy and reference answer a prompt while the run is paused.
  playground_ = new widgets::PlaygroundPanel(tabs_);
  playground_->setObjectName("playground");
  tabs_->addTab(playground_, tr("Playground"));
}

void MainWindow::startSweep() {
  const auto c = runConfig().run;
  QStringList args;
  if (!c.model_dir.empty()) args << "--model" << QString::fromStdString(c.model_dir);
  if (!c.data_path.empty()) args << "--data" << QString::fromStdString(c.data_path);
  args << "--lr" << QString::number(c.trainer.learning_rate, 'g', 10) << "--batch"
       << QString::number(c.trainer.batch_size) << "--seed" << QString::number(c.trainer.seed)
       << "--eval-fraction" << QString::number(c.eval_fraction, 'g', 10) << "--device"
       << QString::fromStdString(c.device) << "--quiet";
  const QString root = runs_->runsRoot().isEmpty() ? defaultRunsRoot() : runs_->runsRoot();
  sweep_->start(args, root + "/sweep-" + QDateTime::currentDateTime().toString("yyyyMMdd-HHmmss"));
}

void MainWindow::openSynthDialog() {
  synth_dialog_->setLastRunAvailable(!current_run_dir_.isEmpty() &&
                                     QFileInfo::exists(current_run_dir_ + "/final"));
  synth_dialog_->show();
  synth_dialog_->raise();
}

void MainWindow::startRank(bool viewed_run) {
  const auto c = runConfig().run;
  QStringList args;
  if (!c.data_path.empty()) args << "--data" << QString::fromStdString(c.data_path);
  if (!c.reference_dir.empty()) args << "--reference" << QString::fromStdString(c.reference_dir);
  args << "--device" << QString::fromStdString(c.device);
  const QString root = runs_->runsRoot().isEmpty() ? defaultRunsRoot() : runs_->runsRoot();
  const QString out = root + "/rank-" + QDateTime::currentDateTime().toString("yyyyMMdd-HHmmss");
  if (viewed_run) {
    const QString run = runs_->viewedRun().isEmpty() ? current_run_dir_ : runs_->viewedRun();
    if (run.isEmpty()) return rank_view_->setStatus(tr("Open a run first (Runs list or File ▸ Open run)."));
    return rank_->start({}, run, args, out);
  }
  const auto models = rank_view_->modelFolders();
  if (models.size() < 2) return rank_view_->setStatus(tr("Give at least two model folders to rank."));
  rank_->start(models, {}, args, out);
}

void MainWindow::showRankedPairs(const QString& file, const QString& model) {
  if (run_->isTraining()) return showError(tr("Stop the current run before inspecting a ranking."), 8000);
  PreferenceEval e;
  try {
    e.pairs = app::read_pair_records(file.toStdString());
  } catch (const Error& error) {
    return showError(qstr(error.what()));
  }
  size_t wrong = 0;
  for (const auto& p : e.pairs) wrong += p.misranked;
  e.accuracy = e.pairs.empty() ? 0 : 1.0 - static_cast<double>(wrong) / static_cast<double>(e.pairs.size());
  inspector_->clear();
  inspector_->addEval(e);
  inspector_->setTokensAvailable(false);
  inspector_->setFilter(widgets::PairFilter::MisrankedNow);
  tabs_->setCurrentWidget(inspector_);
  status_->setStateText(
      tr("Pair inspector: %1's %2 mis-ranked of %3 pairs").arg(model).arg(wrong).arg(e.pairs.size()));
}

void MainWindow::updateBetaExplorer(const PreferenceEval& e) {
  if (e.pairs.empty()) return;
  const auto& loss = run_->activeConfig().run.trainer.loss;
  BetaExplorerOptions options;
  options.betas.clear();
  for (int k = 0; k <= 40; ++k) options.betas.push_back(std::pow(10.0, -3.0 + k / 10.0));  // 0.001 … 10
  // The run's own β exactly, so the slider starts on it.
  options.betas.insert(std::lower_bound(options.betas.begin(), options.betas.end(), loss.beta), loss.beta);
  options.losses = {loss.type};
  options.base = loss;
  options.bins = 24;
  try {
    beta_explorer_->setCells(
        explore_betas(e.pairs, options), loss.beta,
        tr("%1 eval pairs at step %2, loss %3: their log-ratios a and b as the run left them")
            .arg(e.pairs.size())
            .arg(e.step)
            .arg(qstr(loss_info(loss.type).name)));
  } catch (const Error& error) {
    beta_explorer_->setMessage(qstr(error.what()));
  }
}

void MainWindow::buildDocks() {
  diagnostics_panel_ = new widgets::DiagnosticsPanel;
  diagnostics_panel_->setMinimumWidth(240);
  auto* diagnostics = makeDock(this, tr("Diagnostics"), "diagnosticsDock", diagnostics_panel_);
  addDockWidget(Qt::RightDockWidgetArea, diagnostics);
  resizeDocks({diagnostics}, {340}, Qt::Horizontal);

  event_log_ = new QListWidget;
  event_log_->setObjectName("eventLog");
  event_log_->setMinimumHeight(60);
  event_log_->setWordWrap(true);  // a narrow dock: long lines wrap rather than scroll sideways
  event_log_->setToolTip(
      tr("The run's life: preparation, start, evaluations, pauses, changes (β, learning rate, marked on "
         "the plots), skipped steps, checkpoints, the end and errors."));
  auto* events = makeDock(this, tr("Run log"), "eventDock", event_log_);
  addDockWidget(Qt::RightDockWidgetArea, events);
  resizeDocks({events}, {120}, Qt::Vertical);

  auto* runs = makeDock(this, tr("Runs"), "runsDock", runs_->panel());
  if (smallScreen()) {
    // A laptop: the plots need the height; the Runs list shares the right column with the Run log.
    addDockWidget(Qt::RightDockWidgetArea, runs);
    tabifyDockWidget(events, runs);
    events->raise();
  } else {
    addDockWidget(Qt::BottomDockWidgetArea, runs);
    resizeDocks({runs}, {170}, Qt::Vertical);
  }
}

void MainWindow::buildMenus() {
  auto* file = menuBar()->addMenu(tr("&File"));
  QAction* open = file->addAction(tr("&Open pairs file…"));
  open->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));  // Ctrl+O opens a run
  connect(open, &QAction::triggered, settings_, &SettingsPanel::chooseDataFile);
  QAction* open_run =
      file->addAction(tr("Open &run…"), QKeySequence::Open, this, &MainWindow::chooseRunDirectory);
  open_run->setToolTip(tr("Open a run directory read-only (the studio's or one `dpo train` wrote)"));
  file->addAction(tr("Save &plots as PNG…"), this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Folder for the plot images"));
    if (!dir.isEmpty()) plots_->savePngs(dir);
  });
  file->addSeparator();
  file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

  auto* view = menuBar()->addMenu(tr("&View"));
  view->addAction(findChild<QDockWidget*>("diagnosticsDock")->toggleViewAction());
  view->addAction(tr("&Training plots"), QKeySequence(Qt::CTRL | Qt::Key_1), this,
                  [this] { showInspector(false); });
  view->addAction(tr("Pair &inspector"), QKeySequence(Qt::CTRL | Qt::Key_2), this,
                  [this] { showInspector(true); });
  view->addAction(findChild<QDockWidget*>("eventDock")->toggleViewAction());
  view->addAction(findChild<QDockWidget*>("runsDock")->toggleViewAction());

  // Debugger keys: F5 run, F6 pause, F10 step, Shift+F5 stop. Window-wide, whatever has focus. The
  // actions are disabled when they cannot act; their keys then reach keyPressEvent, which says why.
  auto* run = menuBar()->addMenu(tr("&Run"));
  start_action_ = run->addAction(tr("&Start"), QKeySequence(Qt::Key_F5), this, &MainWindow::startTraining);
  pause_action_ =
      run->addAction(tr("&Pause / Resume"), QKeySequence(Qt::Key_F6), this, &MainWindow::togglePause);
  step_action_ =
      run->addAction(tr("S&tep (while paused)"), QKeySequence(Qt::Key_F10), this, &MainWindow::stepOnce);
  stop_action_ =
      run->addAction(tr("S&top"), QKeySequence(Qt::SHIFT | Qt::Key_F5), run_, &RunController::stop);
  run->addSeparator();
  evaluate_action_ =
      run->addAction(tr("&Evaluate now"), QKeySequence(Qt::Key_F9), run_, &RunController::evaluateNow);
  run->addSeparator();
  checkpoint_action_ =
      run->addAction(tr("Save &checkpoint"), QKeySequence::Save, this, &MainWindow::saveCheckpoint);
  run->addAction(tr("Resume the viewed r&un"), this, [this] { resumeRun(); });
  run->addSeparator();
  run->addAction(tr("S&ynthetic pairs…"), this, &MainWindow::openSynthDialog);
}

void MainWindow::connectRun() {
  connect(controls_->startButton(), &QPushButton::clicked, this, &MainWindow::startTraining);
  connect(controls_->pauseButton(), &QPushButton::clicked, this, &MainWindow::togglePause);
  connect(controls_->stopButton(), &QPushButton::clicked, run_, &RunController::stop);
  connect(controls_->stepButton(), &QPushButton::clicked, this, &MainWindow::stepOnce);
  connect(controls_->saveCheckpointButton(), &QPushButton::clicked, this, &MainWindow::saveCheckpoint);
  connect(controls_->resumeRunButton(), &QPushButton::clicked, this, [this] { resumeRun(); });
  connect(controls_->newRunButton(), &QPushButton::clicked, this, &MainWindow::leaveRunView);
  connect(status_->progress(), &widgets::ProgressStrip::cancelRequested, run_, &RunController::stop);
  connect(settings_, &SettingsPanel::validityChanged, this, &MainWindow::updateControls);
  connect(settings_, &SettingsPanel::runChangesEdited, this, &MainWindow::applyRunChanges);
  connect(plots_, &TrainingPlots::smoothingChanged, runs_, &RunsBrowser::setSmoothing);
  connect(inspector_, &widgets::PairInspector::pairTokensRequested, run_, &RunController::requestPairTokens);
  connect(
      playground_, &widgets::PlaygroundPanel::generationRequested, this,
      [this](const QString& prompt, int max_new_tokens, double temperature, quint64 seed) {
        // A reopened run answers with its final model, loaded on this first request.
        if (run_->state() == RunState::Idle && isViewingRun() && run_->startPlayground(runs_->viewedRun()))
          updatePlayground();
        run_->requestGeneration(prompt, max_new_tokens, temperature, seed);
      });
  connect(run_, &RunController::playgroundChanged, this, &MainWindow::updatePlayground);
  connect(run_, &RunController::playgroundFailed, this, [this](const QString& message) {
    widgets::PlaygroundResult failed;
    failed.error = message;
    playground_->showResult(failed);
    showError(message);
  });
  connect(runs_, &RunsBrowser::viewRequested, this, [this](const QString& dir) { viewRun(dir); });
  connect(runs_, &RunsBrowser::openRequested, this, &MainWindow::chooseRunDirectory);
  connect(runs_, &RunsBrowser::compareShown, this, [this] { tabs_->setCurrentWidget(runs_->compareTab()); });

  connect(run_, &RunController::stateChanged, this, [this](RunState state) {
    if (state == RunState::Paused && logged_state_ != RunState::Paused)
      logRun(tr("step %1: paused").arg(run_->stepsDone()));
    else if (state == RunState::Running && logged_state_ == RunState::Paused)
      logRun(tr("step %1: resumed").arg(run_->stepsDone()));
    logged_state_ = state;
    settings_->setRunState(state);
    updatePlayground();
    updateControls();
    showState();
  });
  connect(run_, &RunController::recordsCleared, this, [this] {
    plots_->clear();
    inspector_->clear();
    event_log_->clear();
    status_->clear();
    facts_->clearStep();
  });
  connect(run_, &RunController::preparing, status_->progress(), &widgets::ProgressStrip::setProgress);
  connect(run_, &RunController::preparing, this, [this](const QString& stage, qint64, qint64) {
    if (stage != logged_stage_) logRun(tr("preparing: %1").arg(logged_stage_ = stage));
  });
  connect(run_, &RunController::prepared, facts_, &RunFacts::setPrepared);
  connect(run_, &RunController::prepared, this,
          [this](const QString& data_label, qint64 pairs, qint64 parameters, const QString& model_label) {
            logRun(tr("ready: %1 · %2 pairs; %3 · %4 parameters; training starts")
                       .arg(data_label)
                       .arg(pairs)
                       .arg(model_label, formatCount(parameters)));
          });
  connect(run_, &RunController::stepRecorded, this, [this](const StepMetrics& m) {
    if (!status_->progress()->isHidden()) status_->progress()->finish();
    plots_->addStep(m);
    // The Runs list follows the run (a few times a second: it is a whole row to redraw).
    if (!current_run_dir_.isEmpty() && progress_clock_.elapsed() > 250) {
      runs_->showProgress(current_run_dir_, m.step, m.rewards_accuracies, m.beta);
      progress_clock_.restart();
    }
    status_->showStep(m, run_->activeConfig().run.trainer.max_steps, run_->records());
    facts_->showStep(m);
  });
  connect(run_, &RunController::evalRecorded, this, [this](const PreferenceEval& e) {
    logRun(tr("step %1: evaluated %2 held-out pairs: accuracy %3, loss %4")
               .arg(e.step)
               .arg(e.pairs.size())
               .arg(e.accuracy, 0, 'f', 3)
               .arg(e.mean_loss, 0, 'f', 4));
    plots_->addEval(e);
    inspector_->addEval(e);
    updateBetaExplorer(e);
  });
  connect(run_, &RunController::eventRecorded, this, &MainWindow::onEvent);
  connect(run_, &RunController::pairTokensReady, this, [this](const PairTokenScores& tokens) {
    inspector_->setPairTokens(tokens);
    if (inspector_->selectedLine() == static_cast<qint64>(tokens.line))
      Q_EMIT pairTokensShown(static_cast<qint64>(tokens.line));
  });
  connect(run_, &RunController::generationToken, playground_, &widgets::PlaygroundPanel::appendToken);
  connect(run_, &RunController::generationFinished, playground_, &widgets::PlaygroundPanel::showResult);
  connect(run_, &RunController::paused, this, [this](qint64 steps_done) {
    status_->showStepCount(steps_done, run_->activeConfig().run.trainer.max_steps);
    runs_->refresh();  // the current run's row: steps and accuracy so far
  });
  connect(run_, &RunController::failed, this, &MainWindow::onFailed);
  connect(run_, &RunController::runFinished, this, [this](qint64 steps_done, bool stopped, bool failed) {
    logRun(failed    ? tr("failed after %1 steps").arg(steps_done)
           : stopped ? tr("stopped at step %1").arg(steps_done)
                     : tr("finished: %1 steps").arg(steps_done));
    status_->progress()->finish();
    inspector_->setTokensAvailable(run_->playgroundAvailable());  // the lingering worker scores them
    plots_->flush();
    diagnostics_->stop();
    runs_->refresh();
    // stateChanged(Idle) came first and set the controls and the state text.
    if (stopped) status_->setStateText(tr("Stopped"));
  });
  connect(run_, &RunController::runDirectoryReady, this, &MainWindow::onRunDirectoryReady);
  connect(run_, &RunController::checkpointSaved, this, &MainWindow::onCheckpointSaved);
}

void MainWindow::updateControls() {
  const RunState state = run_->state();
  const bool viewing = isViewingRun();
  controls_->update({.state = state,
                     .stepping = run_->isStepping(),
                     .settings_valid = settings_->isValid(),
                     .viewing = viewing,
                     .viewed = runs_->viewedSummary(),
                     .processes = run_->isTraining() ? run_->activeConfig().processes : 1});
  const bool idle = state == RunState::Idle;
  settings_->setEnabled((idle || state == RunState::Paused) && !(viewing && idle));
  if (!start_action_) return;  // before buildMenus
  start_action_->setEnabled(controls_->startButton()->isEnabled());
  pause_action_->setEnabled(controls_->pauseButton()->isEnabled());
  step_action_->setEnabled(controls_->stepButton()->isEnabled());
  stop_action_->setEnabled(controls_->stopButton()->isEnabled());
  checkpoint_action_->setEnabled(controls_->saveCheckpointButton()->isEnabled());
  evaluate_action_->setEnabled(state == RunState::Running || state == RunState::Paused);
}

void MainWindow::keyPressEvent(QKeyEvent* event) {
  // Only keys no widget took arrive here: among them, the shortcuts of disabled run actions.
  const QKeySequence pressed(event->keyCombination());
  const std::pair<QAction*, const char*> actions[] = {
      {start_action_, "start"}, {pause_action_, "pause"},           {step_action_, "step"},
      {stop_action_, "stop"},   {checkpoint_action_, "checkpoint"}, {evaluate_action_, "evaluate"}};
  for (const auto& [action, key] : actions) {
    if (!action || action->isEnabled() || action->shortcut() != pressed) continue;
    const QString why = action == evaluate_action_ ? tr("Evaluate now: no run is running or paused")
                                                   : controls_->whyDisabled(QString::fromUtf8(key));
    statusBar()->showMessage(why, 8000);
    event->accept();
    return;
  }
  QMainWindow::keyPressEvent(event);
}

void MainWindow::showState() {
  const bool viewing = isViewingRun() && run_->state() == RunState::Idle;
  status_->showState({.state = run_->state(),
                      .stepping = run_->isStepping(),
                      .failed = run_->runFailed(),
                      .has_records = !run_->records().empty(),
                      .viewing = viewing ? runs_->viewedSummary().name : QString()});
}

void MainWindow::setRunConfig(const StudioRunConfig& config) {
  settings_->setRunConfig(config);
  pause_after_ = config.pause_after;
  threads_ = config.threads;
}

StudioRunConfig MainWindow::runConfig() const {
  StudioRunConfig c = settings_->runConfig();
  c.run.columns = dataset_panel_->columnsText().toStdString();
  c.pause_after = pause_after_;
  c.threads = threads_;
  c.lesson = lesson_run_;
  return c;
}

void MainWindow::showInspector(bool on) { tabs_->setCurrentIndex(on ? tabs_->indexOf(inspector_) : 0); }

void MainWindow::startTraining() {
  if (run_->state() != RunState::Idle || run_->isTraining() || !settings_->validate()) return;
  StudioRunConfig config = runConfig();
  lesson_run_.reset();  // one run only; a plain Start after it trains the form's settings
  settings_->rememberUsed(config);
  saveSettings();
  config.runs_root = runs_->runsRoot();
  config.resume_dir = std::exchange(pending_resume_, QString());
  runs_->clearViewed();
  current_run_dir_.clear();
  checkpoint_requested_ = false;
  last_error_.clear();
  facts_->setRunFolderText(config.resume_dir.isEmpty() ? tr("Run folder: created once the data is ready")
                                                       : tr("Resuming %1").arg(config.resume_dir));
  run_->clearRecords();
  run_->setActiveConfig(config);
  logged_stage_.clear();
  logRun(tr("start: %1, β %2, learning rate %3, batch %4, %5 steps; data %6; model %7")
             .arg(lossName(config.run))
             .arg(config.run.trainer.loss.beta)
             .arg(config.run.trainer.learning_rate)
             .arg(config.processes > 1
                      ? tr("%1 × %2 processes").arg(config.run.trainer.batch_size).arg(config.processes)
                      : QString::number(config.run.trainer.batch_size))
             .arg(config.run.trainer.max_steps)
             .arg(config.lesson ? tr("demo: %1").arg(QString::fromStdString(config.lesson->dataset))
                  : config.run.data_path.empty() ? tr("embedded demo")
                                                 : QString::fromStdString(config.run.data_path))
             .arg(config.run.model_dir.empty() ? tr("embedded demo model")
                                               : QString::fromStdString(config.run.model_dir)));
  inspector_->setTokensAvailable(true);
  diagnostics_->start();
  status_->showStepCount(0, config.run.trainer.max_steps);
  facts_->setRun(config.lesson ? tr("demo: %1").arg(QString::fromStdString(config.lesson->dataset))
                 : config.run.data_path.empty() ? tr("embedded demo")
                                                : QString::fromStdString(config.run.data_path),
                 tr("—"));
  if (!config.resume_dir.isEmpty()) {
    const auto summary = summarizeRun(config.resume_dir);
    replayRun(config.resume_dir, summary.checkpoint_step);
    inspector_->setTokensAvailable(true);
    status_->showStepCount(summary.checkpoint_step, config.run.trainer.max_steps);
  }
  run_->start(config);
}

void MainWindow::togglePause() {
  if (run_->state() == RunState::Paused) applyRunChanges();
  run_->togglePause();
}

void MainWindow::stepOnce() {
  if (run_->state() != RunState::Paused || run_->isStepping()) return;
  applyRunChanges();
  run_->stepOnce();
}

void MainWindow::applyRunChanges() {
  run_->applyChanges(settings_->betaSpin()->value(), settings_->learningRateSpin()->value());
}

void MainWindow::saveCheckpoint() {
  const bool paused = run_->state() == RunState::Paused;
  if (!run_->saveCheckpoint()) return;
  checkpoint_requested_ = true;
  statusBar()->showMessage(
      paused ? tr("Saving a checkpoint…") : tr("Saving a checkpoint after the step in progress…"), 8000);
}

void MainWindow::onEvent(const TrainerEvent& e) {
  const QString kind = QString::fromStdString(e.kind);
  QString label = kind;
  if (kind == "beta")
    label = tr("β → %1").arg(e.value, 0, 'g', 4);
  else if (kind == "learning_rate")
    label = tr("lr → %1").arg(e.value, 0, 'g', 3);
  const QString line =
      kind == "beta" || kind == "learning_rate"
          ? tr("after step %1: %2 (from step %3 on)").arg(e.step).arg(label).arg(e.step + 1)
          : tr("step %1: %2").arg(e.step).arg(e.message.empty() ? kind : QString::fromStdString(e.message));
  logRun(line);
  statusBar()->showMessage(line, 8000);
  // Between the last step with the old value and the first with the new one.
  plots_->addMarker(static_cast<double>(e.step) + 0.5, label);
}

void MainWindow::updatePlayground() {
  const RunState state = run_->state();
  if (state == RunState::Paused) return playground_->setAvailable(true, {});
  if (state != RunState::Idle)
    return playground_->setAvailable(false, tr("The model is training: pause the run (F6) to try it here."));
  if (isViewingRun()) {
    const QString viewed = QFileInfo(runs_->viewedRun()).absoluteFilePath();
    if (!QFileInfo::exists(viewed + "/final/config.json")) {
      playground_->setRunState(false, false);
      return playground_->setAvailable(
          false, tr("This run has no final model to answer with (it stopped before its first step)."));
    }
    const bool loaded = run_->playgroundAvailable() && run_->playgroundDir() == viewed;
    return playground_->setAvailable(
        true, loaded ? QString() : tr("Generate loads this run's final model and its reference first."));
  }
  if (run_->playgroundAvailable())
    return playground_->setAvailable(
        true, tr("The run has ended: its final model answers, against its reference."));
  playground_->setRunState(false, false);
  playground_->setAvailable(
      false, tr("Start a run (F5), or open one from the Runs list: the Playground answers with its model."));
}

void MainWindow::logRun(const QString& line) {
  event_log_->addItem(QDateTime::currentDateTime().toString("HH:mm:ss") + "  " + line);
  event_log_->scrollToBottom();
}

void MainWindow::onFailed(const QString& message) {
  last_error_ = message;
  logRun(tr("error: %1").arg(message.section('\n', 0, 0)));
  qWarning().noquote() << "dpo-studio: training failed:" << message;
  if (interactive_errors_) {
    const auto& c = run_->activeConfig();
    const QString details =
        tr("Run settings: loss %1, β %2, learning rate %3, batch %4, %5 steps\nData: %6\nModel: %7\nSteps "
           "done: %8")
            .arg(lossName(c.run))
            .arg(c.run.trainer.loss.beta)
            .arg(c.run.trainer.learning_rate)
            .arg(c.run.trainer.batch_size)
            .arg(c.run.trainer.max_steps)
            .arg(c.run.data_path.empty() ? tr("embedded demo") : QString::fromStdString(c.run.data_path))
            .arg(c.run.model_dir.empty() ? tr("embedded demo model")
                                         : QString::fromStdString(c.run.model_dir))
            .arg(run_->stepsDone());
    widgets::makeErrorDialog(this, tr("Training failed"), message,
                             tr("The plots, the run log and the run folder keep everything recorded so far."),
                             details)
        ->open();
  }
  statusBar()->showMessage(message.section('\n', 0, 0), 15000);
}

void MainWindow::showError(const QString& message, int timeout_ms) {
  last_error_ = message;
  statusBar()->showMessage(message, timeout_ms);
}

void MainWindow::closeEvent(QCloseEvent* event) {
  saveSettings();
  if (run_->isTraining()) {
    run_->stop();
    QApplication::setOverrideCursor(Qt::WaitCursor);
    run_->shutdown();
    QApplication::restoreOverrideCursor();
  }
  event->accept();
}

void MainWindow::enablePersistence() {
  persistent_ = true;
  settings_->persist(true);
  QSettings s;
  settings_->loadSettings(s);
  plots_->loadSettings(s);
  restoreGeometry(s.value(layoutKey("geometry")).toByteArray());
  restoreState(s.value(layoutKey("state")).toByteArray());
  // A size saved on a larger screen (or grown past this one) is brought back inside it.
  if (!isMaximized() && !isFullScreen()) fitToScreen(size());
}

void MainWindow::saveSettings() {
  if (!persistent_) return;
  QSettings s;
  settings_->saveSettings(s);
  plots_->saveSettings(s);
  s.setValue(layoutKey("geometry"), saveGeometry());
  s.setValue(layoutKey("state"), saveState());
}

// ---- Runs (issue 7): run directories, read-only views, resume ----

bool MainWindow::isViewingRun() const { return !runs_->viewedRun().isEmpty(); }

void MainWindow::replayRun(const QString& dir, qint64 up_to_step) {
  const auto records = loadRunRecords(dir, up_to_step);
  if (!records.error.isEmpty()) {
    showError(records.error);
    qWarning().noquote() << "dpo-studio:" << records.error;
  }
  run_->replay(records);
  plots_->flush();
  diagnostics_->refresh();
}

bool MainWindow::viewRun(const QString& dir_in) {
  if (run_->isTraining()) {
    showError(tr("Stop the current run before opening another one."), 8000);
    return false;
  }
  const QString dir = QFileInfo(dir_in).absoluteFilePath();
  const auto summary = summarizeRun(dir);
  if (!summary.error.isEmpty()) {
    showError(summary.error);
    return false;
  }
  // Cleared as for a new run, then filled from the files.
  run_->clearRecords();
  last_error_.clear();
  const auto form = configFor(runConfig(), summary);
  setRunConfig(form);
  run_->setActiveConfig(form);
  runs_->setViewed(dir, summary);
  current_run_dir_ = dir;
  facts_->setRun(
      form.run.data_path.empty() ? tr("embedded demo") : QString::fromStdString(form.run.data_path),
      summary.settings.value("model").isEmpty() ? tr("demo model") : summary.settings.value("model"));
  facts_->setRunFolderText(tr("Run folder: %1").arg(dir));
  replayRun(dir, -1);
  // Token heatmaps need the run's models: only when the worker holding them is this run's.
  inspector_->setTokensAvailable(run_->playgroundAvailable() && run_->playgroundDir() == dir);
  updatePlayground();
  status_->showStepCount(summary.steps_done, summary.steps_total);
  updateControls();
  showState();
  Q_EMIT runViewed(dir);
  return true;
}

void MainWindow::leaveRunView() {
  if (!isViewingRun() || run_->isTraining()) return;
  runs_->clearViewed();
  run_->clearRecords();
  facts_->setRunFolderText(tr("Each run is saved in a run folder (View ▸ Runs)."));
  updateControls();
  showState();
}

bool MainWindow::openRun(const QString& dir_in) {
  const QString dir = QFileInfo(dir_in).absoluteFilePath();
  if (!QFileInfo::exists(dir + "/config.json")) {
    showError(tr("%1: not a run directory (no config.json)").arg(dir));
    return false;
  }
  runs_->addOpened(dir);
  return viewRun(dir);
}

void MainWindow::chooseRunDirectory() {
  const QString dir = QFileDialog::getExistingDirectory(this, tr("Open a run directory"), runs_->runsRoot());
  if (dir.isEmpty()) return;
  if (!openRun(dir) && interactive_errors_) {
    auto* box =
        new QMessageBox(QMessageBox::Warning, tr("Cannot open the run"), last_error_, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
  }
}

void MainWindow::resumeRun(const QString& dir_in) {
  const QString dir = dir_in.isEmpty() ? runs_->viewedRun() : QFileInfo(dir_in).absoluteFilePath();
  if (dir.isEmpty() || run_->isTraining() || run_->state() != RunState::Idle) return;
  const auto summary = summarizeRun(dir);
  if (!summary.resumable) {
    showError(tr("%1: no checkpoint to resume from").arg(dir));
    return;
  }
  setRunConfig(configFor(runConfig(), summary));
  pending_resume_ = dir;
  startTraining();
}

void MainWindow::onRunDirectoryReady(const QString& dir, qint64 resumed_from_step) {
  current_run_dir_ = dir;
  facts_->setRunFolderText(tr("Run folder: %1").arg(dir), dir);
  logRun(resumed_from_step >= 0
             ? tr("resumed from the checkpoint at step %1 in %2").arg(resumed_from_step).arg(dir)
             : tr("run folder: %1").arg(dir));
  runs_->refresh();
  runs_->setCurrentRun(dir);
}

void MainWindow::onCheckpointSaved(qint64 step, const QString& path, const QString& error) {
  const bool requested = std::exchange(checkpoint_requested_, false);
  if (!error.isEmpty()) {
    const QString line = tr("step %1: checkpoint failed: %2").arg(step).arg(error);
    statusBar()->showMessage(line, 15000);
    logRun(line);
    qWarning().noquote() << "dpo-studio:" << line;
  } else {
    statusBar()->showMessage(tr("Checkpoint at step %1 saved in %2").arg(step).arg(path), 8000);
    logRun(requested ? tr("step %1: checkpoint saved (asked for)").arg(step)
                     : tr("step %1: checkpoint saved").arg(step));
  }
  runs_->refresh();
}

}  // namespace dpo::studio
