#pragma once
#include <QHash>
#include <QList>
#include <QObject>
#include <QString>
#include <QStringList>
#include <QVariantMap>

#include <vector>

#include "app/studio/training_worker.h"
#include "core/lessons/lesson.h"
#include "widgets/lesson_panel.h"

class QDockWidget;
class QMenu;

namespace dpo::studio {

class MainWindow;

// Lesson mode of the studio (issue 8): the "Lessons" menu and dock. Converts the core lessons
// (resources/lessons, or a file the teacher opens) into the panel's plain data, fills the window's
// run settings from a lesson's run, and highlights the plots the lesson names. Created by the
// MainWindow after its menus; owns no training logic.
class LessonController : public QObject {
  Q_OBJECT

 public:
  explicit LessonController(MainWindow* window);
  ~LessonController() override;

  widgets::LessonPanel* panel() const { return panel_; }
  QDockWidget* dock() const { return dock_; }
  QMenu* menu() const { return menu_; }

  // Index into the panel; shows the dock. false for an out-of-range index.
  bool openLesson(int index);
  // By name ("beta-too-high") or number ("2"); -1 when unknown.
  int findLesson(const QString& name_or_number) const;
  // A lesson JSON file; returns its index, or -1 (the error is in lastError()).
  int openLessonFile(const QString& path);
  QString lastError() const { return last_error_; }

  // The settings of run `run` of lesson `lesson` over the window's current ones (eval cadence,
  // threads). A non-clean demo variant is written to a temporary file, since the worker reads
  // a data path (empty = the embedded demo = clean).
  StudioRunConfig configFor(int lesson, int run) const;
  // Fills the form from configFor, highlights the lesson's plots, and (when autoStart) starts.
  void runLesson(int lesson, int run);
  void setAutoStart(bool on) { auto_start_ = on; }
  // Each run takes the lesson's short_steps (tests, a quick demo in class).
  void setShortRuns(bool on) { short_runs_ = on; }
  // Every run of the lesson in turn, then the check (PASS/FAIL in the panel).
  void runAll(int lesson);
  // The check's verdict once every run it reads has finished: 1 pass, 0 fail, -1 not yet.
  int lastCheck() const { return last_check_; }
  const QHash<QString, double>& measuredValues() const { return measured_; }
  void highlightPlots(int lesson);  // -1 clears
  // Back to the lesson's start: any run of it stopped, the panel as when opened, the check and the
  // Compare overlay cleared, the form on the lesson's first run.
  void resetLesson(int lesson);
  // The run folders of the lesson's runs done so far, in the lesson's order (overlaid in Compare).
  QStringList lessonRunDirs() const;

 private:
  static widgets::LessonView toView(const Lesson& lesson);
  void chooseLessonFile();
  void startNextQueued();
  void setMeasuredLesson(int lesson);  // a new lesson forgets the last one's values and runs
  void onMeasured(const QString& label, const QVariantMap& values);
  void onRunFinished(qint64 steps, bool stopped, bool failed);
  bool checkIfComplete();  // evaluates the check when every value it reads is measured

  MainWindow* window_;
  widgets::LessonPanel* panel_ = nullptr;
  QDockWidget* dock_ = nullptr;
  QMenu* menu_ = nullptr;
  std::vector<Lesson> lessons_;
  QHash<QObject*, QString> plot_titles_;  // each plot's own title, before a lesson marked it
  QString last_error_;
  bool auto_start_ = true;
  bool short_runs_ = false;
  int measured_lesson_ = -1;          // the lesson whose runs measured_ holds
  QHash<QString, double> measured_;   // "<run>.<kind>.<metric>"
  QList<int> queue_;                  // runs still to start in Run all
  bool run_all_ = false;              // the queue came from Run all (Compare is shown at its end)
  QString running_label_;             // the lesson run in progress ("" for any other run)
  QHash<QString, QString> run_dirs_;  // label -> run folder, of measured_lesson_
  int last_check_ = -1;
};

}  // namespace dpo::studio
