#include "app/studio/lesson_controller.h"

#include <QDir>
#include <QDockWidget>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QScrollArea>
#include <QTabWidget>
#include <QTimer>

#include <algorithm>
#include <exception>
#include <fstream>
#include <sstream>
#include <utility>

#include "app/session/lesson_run.h"
#include "app/studio/main_window.h"
#include "app/studio/qt_text.h"
#include "app/studio/runs_browser.h"
#include "app/studio/training_plots.h"
#include "core/demo/demo_datasets.h"
#include "resources/demo_assets.h"
#include "widgets/metric_plot.h"

namespace dpo::studio {

namespace {

QString describeRun(const LessonRun& r) { return qstr(app::describe_lesson_run(r, r.steps)); }

// Which of the window's plots draws a metrics.jsonl series.
widgets::MetricPlot* plotFor(const MainWindow& w, const std::string& metric) {
  if (metric.starts_with("rewards/margins") || metric.starts_with("rewards/accuracies"))
    return w.plots()->rewardMarginPlot();
  if (metric.starts_with("rewards/") || metric.starts_with("logps/")) return w.plots()->logRatioPlot();
  if (metric.starts_with("loss")) return w.plots()->lossPlot();
  if (metric.starts_with("length")) return w.plots()->lengthPlot();
  if (metric.starts_with("grad_norm") || metric.starts_with("learning_rate"))
    return w.plots()->optimiserPlot();
  return nullptr;
}

}  // namespace

LessonController::LessonController(MainWindow* window) : QObject(window), window_(window) {
  setObjectName("lessonController");
  for (const auto& f : resources::lesson_files()) {
    std::string name(f.name);
    name = name.substr(0, name.rfind('.'));
    try {
      lessons_.push_back(parse_lesson(f.bytes, "resources/lessons/" + std::string(f.name), name));
    } catch (const std::exception& e) {
      qWarning("dpo-studio: %s", e.what());
    }
  }
  std::stable_sort(lessons_.begin(), lessons_.end(),
                   [](const Lesson& a, const Lesson& b) { return a.number < b.number; });

  dock_ = new QDockWidget(tr("Lessons"), window);
  dock_->setObjectName("lessonDock");
  dock_->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable |
                     QDockWidget::DockWidgetClosable);
  panel_ = new widgets::LessonPanel(dock_);
  panel_->setObjectName("lessonPanel");
  panel_->setMinimumWidth(240);
  QList<widgets::LessonView> views;
  for (const auto& l : lessons_) views.append(toView(l));
  panel_->setLessons(views);
  // Question, check and explanation can outgrow a short dock: it scrolls rather than clips.
  auto* scroll = new QScrollArea(dock_);
  scroll->setWidget(panel_);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  dock_->setWidget(scroll);
  window->addDockWidget(Qt::RightDockWidgetArea, dock_);
  if (auto* diagnostics = window->findChild<QDockWidget*>("diagnosticsDock"))
    window->tabifyDockWidget(diagnostics, dock_);
  dock_->hide();  // the studio opens as before; the Lessons menu shows it

  menu_ = window->menuBar()->addMenu(tr("&Lessons"));
  menu_->setObjectName("lessonsMenu");
  for (int i = 0; i < static_cast<int>(lessons_.size()); ++i)
    menu_->addAction(tr("&%1. %2").arg(lessons_[i].number).arg(qstr(lessons_[i].title)), this,
                     [this, i] { openLesson(i); });
  menu_->addSeparator();
  menu_->addAction(tr("&Open lesson file…"), this, &LessonController::chooseLessonFile);
  menu_->addAction(dock_->toggleViewAction());

  connect(panel_, &widgets::LessonPanel::lessonChosen, this, [this](int i) { highlightPlots(i); });
  connect(panel_, &widgets::LessonPanel::runRequested, this, &LessonController::runLesson);
  connect(panel_, &widgets::LessonPanel::runAllRequested, this, &LessonController::runAll);
  connect(panel_, &widgets::LessonPanel::resetRequested, this, &LessonController::resetLesson);
  connect(window->run(), &RunController::lessonMeasured, this, &LessonController::onMeasured);
  connect(window->run(), &RunController::runFinished, this, &LessonController::onRunFinished);
  connect(panel_, &widgets::LessonPanel::openFileRequested, this, &LessonController::chooseLessonFile);
}

LessonController::~LessonController() = default;

widgets::LessonView LessonController::toView(const Lesson& l) {
  widgets::LessonView v;
  v.name = qstr(l.name);
  v.number = l.number;
  v.title = qstr(l.title);
  v.question = qstr(l.question);
  for (const auto& r : l.runs) v.runs.append(describeRun(r));
  for (const auto& p : l.plots) v.plots.append(qstr(p));
  v.symptom = qstr(l.symptom);
  v.explanation = qstr(l.explanation);
  v.seed_section = qstr(l.seed_section);
  return v;
}

bool LessonController::openLesson(int index) {
  if (index < 0 || index >= static_cast<int>(lessons_.size())) return false;
  dock_->show();
  dock_->raise();
  panel_->showLesson(index);
  highlightPlots(index);
  return true;
}

int LessonController::findLesson(const QString& key) const {
  for (int i = 0; i < static_cast<int>(lessons_.size()); ++i)
    if (qstr(lessons_[i].name) == key || QString::number(lessons_[i].number) == key) return i;
  return -1;
}

int LessonController::openLessonFile(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) {
    last_error_ = tr("%1: cannot read").arg(path);
    return -1;
  }
  const QByteArray bytes = f.readAll();
  try {
    lessons_.push_back(parse_lesson(std::string_view(bytes.constData(), static_cast<size_t>(bytes.size())),
                                    path.toStdString(), QFileInfo(path).completeBaseName().toStdString()));
  } catch (const std::exception& e) {
    last_error_ = QString::fromUtf8(e.what());
    return -1;
  }
  const int index = panel_->addLesson(toView(lessons_.back()));
  openLesson(index);
  return index;
}

void LessonController::chooseLessonFile() {
  const QString path = QFileDialog::getOpenFileName(window_, tr("Open a lesson"), QString(),
                                                    tr("Lessons (*.json);;All files (*)"));
  if (path.isEmpty()) return;
  if (openLessonFile(path) < 0) QMessageBox::warning(window_, tr("Lesson"), last_error_);
}

StudioRunConfig LessonController::configFor(int lesson, int run) const {
  StudioRunConfig c = window_->runConfig();
  if (lesson < 0 || lesson >= static_cast<int>(lessons_.size())) return c;
  const auto& l = lessons_[lesson];
  if (run < 0 || run >= static_cast<int>(l.runs.size())) return c;
  LessonRun r = l.runs[run];
  if (short_runs_ && l.short_steps) r.steps = *l.short_steps;
  c.run.trainer.loss.type = parse_loss_type(r.loss).value_or(c.run.trainer.loss.type);
  c.run.trainer.loss.beta = r.beta;
  c.run.trainer.learning_rate = r.learning_rate;
  c.run.trainer.max_steps = r.steps;
  c.run.trainer.batch_size = r.batch_size;
  c.run.trainer.objective = r.objective == "sft" ? Objective::Sft : Objective::Preference;
  c.run.trainer.seed = r.seed;
  c.run.trainer.loss.label_smoothing = r.label_smoothing;
  c.run.trainer.loss.length_alpha = r.length_alpha;
  c.run.data_path.clear();  // the worker writes the lesson's demo variant into the run folder
  // Lessons train the demo model against its frozen copy: the form says so, whatever it held before.
  c.run.model_dir.clear();
  c.run.reference_dir.clear();
  c.run.tokenizer_path.clear();
  c.lesson = r;
  return c;
}

void LessonController::runLesson(int lesson, int run) {
  if (lesson < 0 || lesson >= static_cast<int>(lessons_.size())) return;
  const auto& runs = lessons_[lesson].runs;
  if (run < 0 || run >= static_cast<int>(runs.size())) return;
  if (window_->run()->isTraining()) {
    panel_->setStatus(tr("A run is in progress: stop it first."));
    return;
  }
  const StudioRunConfig config = configFor(lesson, run);
  window_->setRunConfig(config);
  window_->setLessonRun(config.lesson);
  if (measured_lesson_ != lesson) setMeasuredLesson(lesson);
  highlightPlots(lesson);
  panel_->setStatus(
      tr("Running %1. Pause (F6) and Step (F10) to go one step at a time; Reveal when the class has seen it.")
          .arg(qstr(runs[run].label)));
  if (!auto_start_) return;
  window_->startTraining();
  if (window_->run()->isTraining()) running_label_ = qstr(runs[run].label);
}

void LessonController::setMeasuredLesson(int lesson) {
  measured_lesson_ = lesson;
  measured_.clear();
  run_dirs_.clear();
  last_check_ = -1;
}

QStringList LessonController::lessonRunDirs() const {
  QStringList dirs;
  if (measured_lesson_ < 0 || measured_lesson_ >= static_cast<int>(lessons_.size())) return dirs;
  for (const auto& r : lessons_[measured_lesson_].runs)
    if (const QString dir = run_dirs_.value(qstr(r.label)); !dir.isEmpty()) dirs.append(dir);
  return dirs;
}

void LessonController::resetLesson(int lesson) {
  if (lesson < 0 || lesson >= static_cast<int>(lessons_.size())) return;
  queue_.clear();
  run_all_ = false;
  running_label_.clear();
  const auto clear_plots = [this] {
    if (!window_->run()->isTraining() && !window_->isViewingRun()) window_->run()->clearRecords();
  };
  if (window_->run()->isTraining()) {
    connect(
        window_->run(), &RunController::runFinished, this,
        [this, clear_plots] { QTimer::singleShot(0, this, clear_plots); }, Qt::SingleShotConnection);
    window_->run()->stop();
  } else {
    clear_plots();
  }
  setMeasuredLesson(lesson);
  if (panel_->currentLesson() != lesson) openLesson(lesson);
  panel_->reset();
  window_->runs()->setCompareRuns({});
  if (!lessons_[lesson].runs.empty()) {
    const StudioRunConfig config = configFor(lesson, 0);
    window_->setRunConfig(config);
    window_->setLessonRun(config.lesson);
  }
  highlightPlots(lesson);
}

void LessonController::highlightPlots(int lesson) {
  const bool valid = lesson >= 0 && lesson < static_cast<int>(lessons_.size());
  QList<widgets::MetricPlot*> marked;
  if (valid)
    for (const auto& p : lessons_[lesson].plots)
      if (auto* plot = plotFor(*window_, p); plot && !marked.contains(plot)) marked.append(plot);
  for (auto* plot : window_->plots()->plots()) {
    if (!plot) continue;
    if (!plot_titles_.contains(plot)) plot_titles_.insert(plot, plot->title());
    const bool on = marked.contains(plot);
    // The star and the frame mark it; a "(lesson N)" suffix only wrapped the title onto a second line.
    plot->setTitle(on ? QStringLiteral("★ ") + plot_titles_.value(plot) : plot_titles_.value(plot));
    plot->setStyleSheet(
        on ? QStringLiteral("#%1 { border: 3px solid #e8a33d; border-radius: 4px; }").arg(plot->objectName())
           : QString());
    plot->setProperty("lessonHighlight", on);
  }
}

void LessonController::runAll(int lesson) {
  if (lesson < 0 || lesson >= static_cast<int>(lessons_.size())) return;
  if (window_->run()->isTraining()) {
    panel_->setStatus(tr("A run is in progress: stop it first."));
    return;
  }
  setMeasuredLesson(lesson);
  panel_->clearCheck();
  window_->runs()->setCompareRuns({});
  queue_.clear();
  for (int i = 0; i < static_cast<int>(lessons_[lesson].runs.size()); ++i) queue_.append(i);
  run_all_ = true;
  startNextQueued();
}

void LessonController::startNextQueued() {
  if (queue_.isEmpty()) return;
  const int run = queue_.takeFirst();
  const bool was = auto_start_;
  auto_start_ = true;
  runLesson(measured_lesson_, run);
  auto_start_ = was;
  panel_->setStatus(
      tr("Running %1 (%2 of %3) — the check follows the last run.")
          .arg(qstr(lessons_[measured_lesson_].runs[run].label))
          .arg(static_cast<int>(lessons_[measured_lesson_].runs.size()) - static_cast<int>(queue_.size()))
          .arg(lessons_[measured_lesson_].runs.size()));
}

void LessonController::onMeasured(const QString& label, const QVariantMap& values) {
  if (measured_lesson_ < 0) return;
  for (auto it = values.begin(); it != values.end(); ++it)
    measured_[label + "." + it.key()] = it.value().toDouble();
  checkIfComplete();
}

void LessonController::onRunFinished(qint64 steps, bool stopped, bool failed) {
  const QString label = std::exchange(running_label_, QString());
  if (!label.isEmpty() && !failed && steps > 0 && !window_->currentRunDir().isEmpty()) {
    // The lesson's runs so far, overlaid in Compare; after the last of Run all, shown there too.
    run_dirs_.insert(label, window_->currentRunDir());
    window_->runs()->setCompareRuns(lessonRunDirs());
    if (run_all_ && queue_.isEmpty() && !stopped)
      window_->tabs()->setCurrentWidget(window_->runs()->compareTab());
  }
  if (queue_.isEmpty()) {
    run_all_ = false;
    return;
  }
  if (stopped || failed) {
    queue_.clear();
    run_all_ = false;
    panel_->setStatus(failed ? tr("The run failed; the check needs every run.")
                             : tr("Stopped; the check needs every run."));
    return;
  }
  // Start the next run once this one's thread is gone (finished() is the worker's last signal).
  QTimer::singleShot(0, this, [this] { startNextQueued(); });
}

bool LessonController::checkIfComplete() {
  if (measured_lesson_ < 0 || measured_lesson_ >= static_cast<int>(lessons_.size())) return false;
  const auto& l = lessons_[measured_lesson_];
  std::map<std::string, double> values;
  for (auto it = measured_.begin(); it != measured_.end(); ++it) values[it.key().toStdString()] = it.value();
  QStringList missing;
  try {
    for (const auto& name : check_value_names(l.check, l.name))
      if (!values.count(name)) {
        const QString run = qstr(name.substr(0, name.find('.')));
        if (!missing.contains(run)) missing.append(run);
      }
    if (!missing.isEmpty()) {
      panel_->setStatus(tr("Measured; the check also needs run %1.").arg(missing.join(QStringLiteral(", "))));
      return false;
    }
    const auto result = evaluate_check(l.check, values, l.name);
    QStringList clauses;
    for (const auto& c : result.clauses)
      clauses.append((c.passed ? QStringLiteral("✓ ") : QStringLiteral("✗ ")) + qstr(c.measured));
    last_check_ = result.passed ? 1 : 0;
    panel_->setCheck(result.passed, qstr(l.symptom), clauses);
    panel_->setStatus(tr("All runs done. Reveal when the class has answered."));
    return true;
  } catch (const std::exception& e) {
    panel_->setStatus(QString::fromUtf8(e.what()));
    return false;
  }
}

}  // namespace dpo::studio
