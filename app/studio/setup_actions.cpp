#include "app/studio/setup_actions.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QListWidget>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QStatusBar>
#include <QTabWidget>

#include <nlohmann/json.hpp>

#include <utility>
#include <vector>

#include "app/session/train_args.h"
#include "app/studio/lesson_controller.h"
#include "app/studio/main_window.h"
#include "app/studio/qt_text.h"
#include "app/studio/runs_browser.h"
#include "app/studio/training_plots.h"
#include "core/runtime/error.h"
#include "widgets/beta_explorer_view.h"
#include "widgets/dataset_panel.h"
#include "widgets/lesson_panel.h"
#include "widgets/metric_plot.h"
#include "widgets/pair_inspector.h"
#include "widgets/playground_panel.h"
#include "widgets/rank_view.h"
#include "widgets/sweep_view.h"

namespace dpo::studio {

namespace {

QMenu* findMenu(MainWindow* window, const QString& title) {
  for (QAction* a : window->menuBar()->actions())
    if (a->menu() && a->text().remove('&') == title) return a->menu();
  return window->menuBar()->addMenu(title);
}

// The tab each key of a setup file names.
std::vector<std::pair<std::string, QWidget*>> tabsByKey(MainWindow* w) {
  return {{"training", w->plots()},
          {"inspector", w->pairInspector()},
          {"compare", w->runs()->compareTab()},
          {"optimiser", w->plots()->optimiserPlot()},
          {"dataset", w->datasetPanel()},
          {"beta", w->betaExplorer()},
          {"sweep", w->sweepView()},
          {"rank", w->rankView()},
          {"playground", w->playground()}};
}

// The config.json keys ("trainer.beta") whose values differ between two run settings.
void differingKeys(const nlohmann::json& a, const nlohmann::json& b, const QString& prefix,
                   QStringList& out) {
  for (const auto& [key, value] : a.items()) {
    const QString name = prefix + qstr(key);
    if (!b.contains(key))
      out << name;
    else if (value.is_object() && b[key].is_object())
      differingKeys(value, b[key], name + ".", out);
    else if (value != b[key])
      out << name;
  }
}

}  // namespace

SetupActions::SetupActions(MainWindow* window) : QObject(window), window_(window) {
  setObjectName("setupActions");
  QMenu* file = findMenu(window, tr("File"));
  // Beside the other Open/Save items: before the separator that sets off Quit.
  QAction* before = nullptr;
  const auto file_actions = file->actions();
  for (auto it = file_actions.rbegin(); it != file_actions.rend() && !before; ++it)
    if ((*it)->isSeparator()) before = *it;
  open_ = new QAction(tr("Open s&etup…"), this);
  open_->setToolTip(tr("Open a setup file (.dposetup): its settings, lesson and tab"));
  save_ = new QAction(tr("Save set&up…"), this);
  save_->setToolTip(tr("Save the settings, the open lesson and the tab shown as a setup file to hand on"));
  file->insertActions(before, {open_, save_});
  if (before) file->insertSeparator(open_);
  connect(open_, &QAction::triggered, this, &SetupActions::chooseOpenFile);
  connect(save_, &QAction::triggered, this, &SetupActions::chooseSaveFile);

  QMenu* run = findMenu(window, tr("Run"));
  run->addSeparator();
  copy_ = run->addAction(tr("&Copy run setup"), this, &SetupActions::copyRunSetup);
  copy_->setToolTip(tr("Copy the dpo train command line that trains these settings"));
}

QString SetupActions::commandLine() const { return qstr(app::train_command_line(window_->runConfig().run)); }

void SetupActions::copyRunSetup() {
  const auto config = window_->runConfig();
  const auto command = app::train_command(config.run);
  const QString line = commandLine();
  QApplication::clipboard()->setText(line);
  QStringList left_out;
  for (const auto& key : command.not_expressible) left_out << qstr(key);
  if (config.sft_reference_steps > 0) left_out << tr("the SFT reference steps (run dpo sft first)");
  window_->statusBar()->showMessage(
      tr("Copied: %1").arg(line) +
          (left_out.isEmpty() ? QString() : tr("  (not on the command line: %1)").arg(left_out.join(", "))),
      30000);
}

app::SetupFile SetupActions::currentSetup() const {
  app::SetupFile setup;
  setup.run = window_->runConfig().run;
  setup.run.cache_dir.clear();
  setup.run.no_cache = false;
  if (auto* lessons = window_->findChild<LessonController*>()) {
    const int index = lessons->panel()->currentLesson();
    if (index >= 0 && !lessons->dock()->isHidden())
      if (auto* item = lessons->panel()->lessonList()->item(index))
        setup.lesson = item->toolTip().toStdString();
  }
  for (const auto& [key, widget] : tabsByKey(window_))
    if (window_->tabs()->currentWidget() == widget) setup.tab = key;
  return setup;
}

bool SetupActions::saveSetup(const QString& path) {
  try {
    app::write_setup_file(path.toStdString(), currentSetup());
  } catch (const std::exception& e) {
    fail(tr("Cannot save the setup: %1").arg(QString::fromUtf8(e.what())));
    return false;
  }
  last_error_.clear();
  window_->statusBar()->showMessage(tr("Setup saved to %1 (open it with dpo-studio --setup, or train it with "
                                       "dpo train --setup)")
                                        .arg(path),
                                    15000);
  return true;
}

bool SetupActions::openSetup(const QString& path) {
  app::SetupFile setup;
  try {
    setup = app::read_setup_file(path.toStdString());
  } catch (const Error& e) {
    fail(QString::fromUtf8(e.what()));
    return false;
  }
  return applySetup(setup, path);
}

bool SetupActions::applySetup(const app::SetupFile& setup, const QString& label) {
  const QString from = label.isEmpty() ? tr("setup") : label;
  auto* lessons = window_->findChild<LessonController*>();
  int lesson = -1;
  if (!setup.lesson.empty()) {
    lesson = lessons ? lessons->findLesson(qstr(setup.lesson)) : -1;
    if (lesson < 0) {
      fail(tr("%1: lesson: \"%2\" is not one of the studio's lessons").arg(from, qstr(setup.lesson)));
      return false;
    }
  }
  auto config = window_->runConfig();
  config.run = setup.run;
  window_->setRunConfig(config);
  if (lesson >= 0) lessons->openLesson(lesson);
  for (const auto& [key, widget] : tabsByKey(window_))
    if (key == setup.tab) window_->tabs()->setCurrentWidget(widget);

  not_in_form_.clear();
  differingKeys(nlohmann::json(setup.run), nlohmann::json(window_->runConfig().run), QString(), not_in_form_);
  last_error_.clear();
  window_->statusBar()->showMessage(not_in_form_.isEmpty()
                                        ? tr("Opened %1").arg(from)
                                        : tr("Opened %1; the form has no place for %2, which Start trains at "
                                             "the defaults (dpo train --setup "
                                             "uses them)")
                                              .arg(from, not_in_form_.join(", ")),
                                    30000);
  return true;
}

void SetupActions::chooseSaveFile() {
  QString path = QFileDialog::getSaveFileName(window_, tr("Save setup"), QStringLiteral("class.dposetup"),
                                              tr("DPO Studio setup (*.dposetup);;All files (*)"));
  if (path.isEmpty()) return;
  if (QFileInfo(path).suffix().isEmpty()) path += QString::fromLatin1(app::kSetupExtension);
  if (!saveSetup(path)) QMessageBox::warning(window_, tr("Save setup"), last_error_);
}

void SetupActions::chooseOpenFile() {
  const QString path = QFileDialog::getOpenFileName(window_, tr("Open setup"), QString(),
                                                    tr("DPO Studio setup (*.dposetup);;All files (*)"));
  if (!path.isEmpty() && !openSetup(path)) QMessageBox::warning(window_, tr("Open setup"), last_error_);
}

void SetupActions::fail(const QString& message) {
  last_error_ = message;
  window_->statusBar()->showMessage(message, 15000);
}

}  // namespace dpo::studio
