#pragma once
#include <QElapsedTimer>
#include <QMainWindow>
#include <QString>

#include <optional>

#include "app/studio/run_controller.h"

class QAction;
class QScreen;
class QListWidget;
class QTabWidget;

namespace dpo::widgets {
class BetaExplorerView;
class DatasetPanel;
class DiagnosticsPanel;
class PairInspector;
class PlaygroundPanel;
class SynthPairsDialog;
class RankView;
class SweepView;
}  // namespace dpo::widgets

namespace dpo::studio {

class DiagnosticsFeed;
class RunControls;
class RunFacts;
class RunsBrowser;
class SettingsPanel;
class StatusLine;
class SweepController;
class SynthController;
class RankController;
class TrainingPlots;

// The studio's window: lays out its components and connects them. Settings and run controls on
// the left, the Training / Pair inspector / Compare / Optimiser / Dataset / Playground tabs in the
// centre, Diagnostics, Run log and Runs in docks, the run state in the status bar. The run itself
// lives in the RunController; each component draws what the controller's signals carry.
class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  RunController* run() const { return run_; }
  SettingsPanel* settings() const { return settings_; }
  RunControls* controls() const { return controls_; }
  RunFacts* facts() const { return facts_; }
  TrainingPlots* plots() const { return plots_; }
  RunsBrowser* runs() const { return runs_; }
  StatusLine* statusLine() const { return status_; }
  DiagnosticsFeed* diagnostics() const { return diagnostics_; }
  widgets::DiagnosticsPanel* diagnosticsPanel() const { return diagnostics_panel_; }
  widgets::PairInspector* pairInspector() const { return inspector_; }
  widgets::SweepView* sweepView() const { return sweep_view_; }
  widgets::BetaExplorerView* betaExplorer() const { return beta_explorer_; }
  SweepController* sweep() const { return sweep_; }
  widgets::RankView* rankView() const { return rank_view_; }
  RankController* rank() const { return rank_; }
  widgets::SynthPairsDialog* synthDialog() const { return synth_dialog_; }
  SynthController* synth() const { return synth_; }
  void openSynthDialog();  // Run ▸ Synthetic pairs…
  widgets::DatasetPanel* datasetPanel() const { return dataset_panel_; }
  widgets::PlaygroundPanel* playground() const { return playground_; }
  QTabWidget* tabs() const { return tabs_; }
  QListWidget* eventLog() const { return event_log_; }

  // The next run's settings: the form, the Dataset tab's columns, and the window's own (threads,
  // pause_after, the lesson run).
  void setRunConfig(const StudioRunConfig& config);
  StudioRunConfig runConfig() const;
  // The next Start trains this lesson run: its dataset, objective and seeds, the rest from the form.
  void setLessonRun(const std::optional<dpo::LessonRun>& run) { lesson_run_ = run; }
  // false: errors are logged (qWarning) instead of shown in a dialog (smoke runs, tests).
  void setInteractiveErrors(bool on) { interactive_errors_ = on; }
  // Restores the last session's settings, recent files and window layout, and saves them from now
  // on (QSettings). Off by default, so tests and headless runs neither read nor write them.
  void enablePersistence();
  void fitToScreen(QSize wanted);  // that size or less: never larger than the screen's free area
  void saveSettings();
  QString lastError() const { return last_error_; }           // of the last failed run, view or open
  QString currentRunDir() const { return current_run_dir_; }  // of the run training now (or last)
  void showInspector(bool on);                                // the Pair inspector tab, or the training plots

  // Runs (issue 7): a run folder opens read-only with all its plots; a stopped run resumes.
  bool openRun(const QString& dir);  // lists it too; false (see lastError()) when it cannot be read
  bool viewRun(const QString& dir);  // read-only: plots, inspector, log from its files; Start disabled
  bool isViewingRun() const;
  void leaveRunView();  // back to a new run
  // Continues `dir` (default: the viewed run) from its newest checkpoint: its records so far are
  // drawn first, then the worker goes on from the checkpoint's step.
  void resumeRun(const QString& dir = {});

 public Q_SLOTS:
  void startTraining();
  void togglePause();
  void stepOnce();
  void applyRunChanges();     // while paused: send changed β / learning rate to the run
  void saveCheckpoint();      // Ctrl+S: checkpoints/step-N between steps, or at once while paused
  void chooseRunDirectory();  // File ▸ Open run… (Ctrl+O)

 Q_SIGNALS:
  void pairTokensShown(qint64 line);
  void runViewed(const QString& dir);  // a run was opened read-only

 protected:
  void closeEvent(QCloseEvent* event) override;
  void keyPressEvent(QKeyEvent* event) override;

 private:
  QWidget* buildLeftColumn();
  const QScreen* currentScreen() const;       // the window's, else the primary one
  bool smallScreen() const;                   // less than 900 px of free height
  QString layoutKey(const char* what) const;  // QSettings key of the window's geometry / dock state
  void buildCentre();
  void updateBetaExplorer(const PreferenceEval& e);
  void startSweep();
  void startRank(bool viewed_run);
  void showRankedPairs(const QString& file, const QString& model);
  void buildDocks();
  void buildMenus();
  void connectRun();
  void updateControls();  // after a state, validity or view change
  void clearViews();      // as for a new run
  void onFailed(const QString& message);
  void logRun(const QString& line);  // a timestamped line in the Run log
  void updatePlayground();           // whether a model can answer, and what to do if not
  void onEvent(const TrainerEvent& event);
  void onRunDirectoryReady(const QString& dir, qint64 resumed_from_step);
  void onCheckpointSaved(qint64 step, const QString& path, const QString& error);
  void showError(const QString& message, int timeout_ms = 15000);  // lastError and the status bar
  void showState();                                                // the status bar's run state
  void replayRun(const QString& dir, qint64 up_to_step);           // a run folder's records into the views

  RunController* run_ = nullptr;
  SettingsPanel* settings_ = nullptr;
  RunControls* controls_ = nullptr;
  RunFacts* facts_ = nullptr;
  TrainingPlots* plots_ = nullptr;
  RunsBrowser* runs_ = nullptr;
  StatusLine* status_ = nullptr;
  DiagnosticsFeed* diagnostics_ = nullptr;
  widgets::DiagnosticsPanel* diagnostics_panel_ = nullptr;
  widgets::PairInspector* inspector_ = nullptr;
  widgets::DatasetPanel* dataset_panel_ = nullptr;
  widgets::PlaygroundPanel* playground_ = nullptr;
  widgets::BetaExplorerView* beta_explorer_ = nullptr;
  widgets::SweepView* sweep_view_ = nullptr;
  SweepController* sweep_ = nullptr;
  widgets::RankView* rank_view_ = nullptr;
  RankController* rank_ = nullptr;
  widgets::SynthPairsDialog* synth_dialog_ = nullptr;
  SynthController* synth_ = nullptr;
  QTabWidget* tabs_ = nullptr;
  QListWidget* event_log_ = nullptr;
  QAction *start_action_ = nullptr, *pause_action_ = nullptr, *step_action_ = nullptr,
          *stop_action_ = nullptr, *checkpoint_action_ = nullptr, *evaluate_action_ = nullptr;

  std::optional<dpo::LessonRun> lesson_run_;  // for the next Start only
  qint64 pause_after_ = 0;
  int threads_ = 0;
  QString pending_resume_, current_run_dir_, last_error_;
  QString synth_model_;  // the model the synthetic pairs came from (empty: the demo model)
  bool checkpoint_requested_ = false;
  RunState logged_state_ = RunState::Idle;
  QString logged_stage_;
  QElapsedTimer progress_clock_;  // throttles the Runs list's live row
  bool interactive_errors_ = true;
  bool persistent_ = false;
};

}  // namespace dpo::studio
