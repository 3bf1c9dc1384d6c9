#pragma once
#include <QHash>
#include <QList>
#include <QMainWindow>
#include <QString>
#include <QStringList>
#include <QTimer>
#include <QVariantMap>

#include <deque>
#include <optional>
#include <vector>

#include "app/studio/eval_record.h"
#include "app/studio/metric_record.h"
#include "app/studio/run_summary.h"
#include "app/studio/training_worker.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLayout;
class QAction;
class QLineEdit;
class QListWidget;
class QTabWidget;
class QPushButton;
class QSlider;
class QSpinBox;
class QThread;
class QWidget;

namespace dpo::widgets {
class DatasetPanel;
class DiagnosticsPanel;
class MetricPlot;
class PairInspector;
class BetaSlider;
class ProgressStrip;
class RunsPanel;
class PlaygroundPanel;
}

namespace dpo::studio {

// Settings on the left, live plots in the centre, diagnostics in a dock on the right, run state in
// the status bar. Holds no training logic: it builds a StudioRunConfig, hands it to a
// TrainingWorker on a QThread, and draws the MetricRecords that come back.
class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  enum class RunState { Idle, Preparing, Running, Pausing, Paused, Stopping };

  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  void setRunConfig(const StudioRunConfig& config);  // fills the form
  StudioRunConfig runConfig() const;                 // reads the form
  // The next Start trains this lesson run: its dataset, objective and seeds, the rest from the form.
  void setLessonRun(const std::optional<dpo::LessonRun>& run) { lesson_run_ = run; }
  // false: errors are logged (qWarning) instead of shown in a dialog (smoke runs, tests).
  void setInteractiveErrors(bool on) { interactive_errors_ = on; }
  void setComputeInfo(const QString& summary, const QString& details);  // threads, BLAS
  // Restores the last session's settings, recent files and window layout, and saves them from now
  // on (QSettings). Off by default, so tests and headless runs neither read nor write them.
  void enablePersistence();
  void saveSettings();
  QComboBox* modelCombo() const { return model_combo_; }
  QComboBox* dataCombo() const { return data_combo_; }
  QString modelDir() const;                  // empty: the built-in demo model
  void setModelDir(const QString& dir);      // added to the recent folders
  QStringList recentDataFiles() const { return recent_data_; }
  QString referenceDir() const;              // empty: a frozen copy of the policy
  void setReferenceDir(const QString& dir);
  qint64 sftReferenceSteps() const;          // > 0: Reference is "Fit by SFT on chosen first"
  void setSftReferenceSteps(qint64 steps);
  // Settings a run would fail on (and warnings), one line each; shown above Start.
  QStringList settingsProblems() const;
  QLabel* settingsProblemsLabel() const { return validation_; }
  widgets::BetaSlider* betaSlider() const { return beta_slider_; }
  QSpinBox* loraRankSpin() const { return lora_spin_; }
  QSpinBox* gradAccumulationSpin() const { return accum_spin_; }

  RunState state() const { return state_; }
  bool isTraining() const { return thread_ != nullptr; }
  qint64 stepsDone() const { return steps_done_; }
  QString lastError() const { return last_error_; }
  const std::deque<MetricRecord>& records() const { return records_; }
  const std::vector<EvalRecord>& evals() const { return evals_; }
  const QList<RunEventRecord>& events() const { return events_; }
  QListWidget* eventLog() const { return event_log_; }

  widgets::MetricPlot* rewardMarginPlot() const { return margin_plot_; }
  widgets::MetricPlot* logRatioPlot() const { return logratio_plot_; }
  widgets::MetricPlot* lengthPlot() const { return length_plot_; }
  widgets::MetricPlot* lossPlot() const { return loss_plot_; }
  widgets::MetricPlot* optimiserPlot() const { return optimiser_plot_; }
  QList<widgets::MetricPlot*> plots() const;
  void flushPlots();
  QComboBox* xAxisCombo() const { return x_axis_combo_; }
  QCheckBox* clipOutliersCheck() const { return clip_check_; }
  QSlider* smoothingSlider() const { return smoothing_slider_; }  // 0–99: EMA weight × 100, all plots

  widgets::DiagnosticsPanel* diagnosticsPanel() const { return diagnostics_; }
  // Runs the §10 rules over the records now (the window does it at most once a second by itself).
  void refreshDiagnostics();
  int diagnosisCount() const { return diagnoses_; }

  QPushButton* startButton() const { return start_button_; }
  QPushButton* pauseButton() const { return pause_button_; }
  QPushButton* stopButton() const { return stop_button_; }
  QPushButton* stepButton() const { return step_button_; }
  QDoubleSpinBox* betaSpin() const { return beta_spin_; }
  QDoubleSpinBox* learningRateSpin() const { return lr_spin_; }
  widgets::ProgressStrip* progressStrip() const { return progress_; }

  widgets::PairInspector* pairInspector() const { return inspector_; }
  QTabWidget* tabs() const { return tabs_; }
  widgets::DatasetPanel* datasetPanel() const { return dataset_panel_; }  // the Dataset tab (issue 5)
  widgets::PlaygroundPanel* playground() const { return playground_; }      // the Playground tab (issue 7)
  void showInspector(bool on);  // the Pair inspector tab, or the training plots

  // Runs (issue 7): every run is written to a run directory; the Runs dock lists them, a run opens
  // read-only with all its plots, checked runs are overlaid on the Compare tab, a stopped run resumes.
  widgets::RunsPanel* runsPanel() const { return runs_panel_; }
  QString runsRoot() const { return runs_root_; }  // where new runs go (default: defaultRunsRoot())
  void setRunsRoot(const QString& root);           // and lists it
  QString currentRunDir() const { return current_run_dir_; }  // of the run training now (or last)
  QString viewedRun() const { return viewed_run_; }           // the read-only run shown ("" when none)
  bool isViewingRun() const { return !viewed_run_.isEmpty(); }
  // Lists `dir` (a studio or CLI run directory) and shows it read-only; false (see lastError()) when
  // it cannot be read.
  bool openRun(const QString& dir);
  bool viewRun(const QString& dir);  // read-only: plots, inspector, log from its files; Start disabled
  void leaveRunView();               // back to a new run
  // Continues `dir` (default: the viewed run) from its newest checkpoint: its records so far are
  // drawn first, then the worker goes on from the checkpoint's step.
  void resumeRun(const QString& dir = {});
  void refreshRuns();
  void setCompareRuns(const QStringList& dirs);  // overlays them on the Compare tab
  QStringList compareRuns() const { return compare_runs_; }
  QStringList compareLabels() const { return compare_labels_; }  // legend names, by differing settings
  QList<widgets::MetricPlot*> comparePlots() const { return compare_plots_; }
  widgets::MetricPlot* compareMarginPlot() const { return compare_plots_.value(0); }
  QWidget* compareTab() const { return compare_tab_; }
  QPushButton* saveCheckpointButton() const { return checkpoint_button_; }
  QPushButton* resumeRunButton() const { return resume_run_button_; }
  QPushButton* newRunButton() const { return new_run_button_; }

 public Q_SLOTS:
  void startTraining();
  void togglePause();
  void stopTraining();
  void stepOnce();          // while paused: one optimiser step, then paused again
  void evaluateNow();       // while paused or running: evaluate the eval split before the next step
  void applyRunChanges();   // while paused: send changed β / learning rate to the run
  void saveCheckpoint();    // Ctrl+S: checkpoints/step-N between steps, or at once while paused
  void chooseRunDirectory();  // File ▸ Open run… (Ctrl+O)

 Q_SIGNALS:
  void stepRecorded(const dpo::studio::MetricRecord& record);
  void runFinished(qint64 steps_done, bool stopped, bool failed);
  void runPaused(qint64 steps_done);
  void evalRecorded(const dpo::studio::EvalRecord& record);
  void pairTokensShown(qint64 line);
  void eventRecorded(const dpo::studio::RunEventRecord& event);
  // A lesson run ended: the values its check reads (TrainingWorker::lessonMeasured).
  void lessonMeasured(const QString& label, const QVariantMap& values);
  void runDirectoryReady(const QString& dir, qint64 resumed_from_step);  // -1: a new run
  void checkpointSaved(qint64 step, const QString& path, const QString& error);
  void runViewed(const QString& dir);  // a run was opened read-only

 protected:
  void closeEvent(QCloseEvent* event) override;

 private:
  QWidget* buildSettingsPanel();
  QWidget* buildPlots();
  void buildStatusBar();
  void buildMenus();
  QWidget* buildPlotToolbar();
  void buildDiagnosticsDock();
  // Runs (issue 7)
  QLayout* buildRunControls(QWidget* parent);
  void buildRunsDock();
  void buildRunsActions();
  void rebuildComparePlots();
  void updateRunControls();             // after setState
  void beginRun();                      // in startTraining, after the form is read
  void preloadResumedRun();             // in startTraining, after the views are cleared
  void connectRunDirectory(TrainingWorker* worker);
  void showRunRecords(const QString& dir, qint64 up_to_step);  // fills the views like a live run
  void onRunDirectoryReady(const QString& dir, qint64 resumed_from_step);
  void onCheckpointSaved(qint64 step, const QString& path, const QString& error);
  void setSmoothing(int percent);
  void setState(RunState state);
  void updateLossFormula();
  void chooseDataFile();
  QWidget* buildMoreSettings(QWidget* parent);
  bool validateSettings();  // shows the problems; false (and Start disabled) when a run would fail
  void fillPickers();
  void syncDataCombo();  // the dataset picker follows the file field
  void onModelPicked(int index);
  void onDataPicked(int index);
  void addRecent(QStringList& list, const QString& path);
  void rememberUsed(const StudioRunConfig& config);

  void onPrepared(const QString& data_label, qint64 pairs, qint64 parameters, const QString& model_label);
  void onStep(const MetricRecord& record);
  void onEval(const EvalRecord& record);
  void onEvent(const RunEventRecord& event);
  void onPairTokens(const PairTokensRecord& tokens);
  void buildEventDock();
  void onPaused(qint64 steps_done);
  void onFailed(const QString& message);
  void onFinished(qint64 steps_done, bool stopped);
  void joinWorker();

  // settings
  QLineEdit* data_edit_ = nullptr;
  QComboBox* model_combo_ = nullptr;
  QComboBox* data_combo_ = nullptr;
  int model_index_ = 0;  // back to it when Open… is cancelled
  QStringList recent_data_, recent_models_;
  bool persistent_ = false;
  widgets::BetaSlider* beta_slider_ = nullptr;
  QWidget* more_settings_ = nullptr;
  QComboBox* reference_combo_ = nullptr;
  QSpinBox* sft_steps_spin_ = nullptr;
  QComboBox* device_combo_ = nullptr;
  QSpinBox* accum_spin_ = nullptr;
  QSpinBox* seed_spin_ = nullptr;
  QSpinBox* max_length_spin_ = nullptr;
  QSpinBox* max_prompt_spin_ = nullptr;
  QSpinBox* lora_spin_ = nullptr;
  QDoubleSpinBox* lora_alpha_spin_ = nullptr;
  QLabel* validation_ = nullptr;
  QComboBox* loss_combo_ = nullptr;
  QLabel* loss_formula_ = nullptr;
  QDoubleSpinBox* beta_spin_ = nullptr;
  QDoubleSpinBox* lr_spin_ = nullptr;
  QSpinBox* steps_spin_ = nullptr;
  QSpinBox* batch_spin_ = nullptr;
  QSpinBox* eval_spin_ = nullptr;
  QPushButton* open_button_ = nullptr;
  QPushButton* step_button_ = nullptr;
  QWidget* settings_box_ = nullptr;
  QPushButton* start_button_ = nullptr;
  QPushButton* pause_button_ = nullptr;
  QPushButton* stop_button_ = nullptr;
  QLabel* run_data_ = nullptr;
  QLabel* run_model_ = nullptr;
  QLabel* run_compute_ = nullptr;
  QHash<QString, QLabel*> latest_;

  // plots
  widgets::MetricPlot* margin_plot_ = nullptr;
  widgets::MetricPlot* logratio_plot_ = nullptr;
  widgets::MetricPlot* length_plot_ = nullptr;
  widgets::MetricPlot* loss_plot_ = nullptr;
  widgets::MetricPlot* optimiser_plot_ = nullptr;  // grad norm and learning rate, its own tab
  QSlider* smoothing_slider_ = nullptr;
  QTabWidget* tabs_ = nullptr;
  widgets::PairInspector* inspector_ = nullptr;
  widgets::DatasetPanel* dataset_panel_ = nullptr;
  widgets::PlaygroundPanel* playground_ = nullptr;
  QListWidget* event_log_ = nullptr;
  // runs
  widgets::RunsPanel* runs_panel_ = nullptr;
  QWidget* compare_tab_ = nullptr;
  QWidget* compare_area_ = nullptr;
  QLabel* compare_note_ = nullptr;
  QList<widgets::MetricPlot*> compare_plots_;
  QStringList compare_runs_, compare_labels_;
  QPushButton* checkpoint_button_ = nullptr;
  QPushButton* resume_run_button_ = nullptr;
  QPushButton* new_run_button_ = nullptr;
  QLabel* run_dir_label_ = nullptr;
  QString runs_root_;
  QStringList opened_runs_;  // opened by hand, outside the runs root
  QString current_run_dir_, viewed_run_, pending_resume_;
  bool checkpoint_requested_ = false;
  bool syncing_compare_ = false;  // setting the Runs panel's check marks from setCompareRuns
  RunSummary viewed_summary_;
  // point series of the evaluations on the train plots
  int eval_margin_ = -1, eval_accuracy_ = -1, eval_chosen_ = -1, eval_rejected_ = -1, eval_loss_ = -1,
      sampled_length_ = -1, sampled_kl_ = -1;
  QLabel* smoothing_value_ = nullptr;
  QComboBox* x_axis_combo_ = nullptr;  // step / tokens / time, all plots
  QCheckBox* clip_check_ = nullptr;    // ignore outliers in the y autoscale, all plots

  // diagnostics
  widgets::DiagnosticsPanel* diagnostics_ = nullptr;
  QTimer diagnose_timer_;
  bool diagnostics_stale_ = false;
  int diagnoses_ = 0;

  // status bar
  QLabel* status_state_ = nullptr;
  QLabel* status_step_ = nullptr;
  QLabel* status_loss_ = nullptr;
  QLabel* status_accuracy_ = nullptr;
  QLabel* status_speed_ = nullptr;
  widgets::ProgressStrip* progress_ = nullptr;  // preparation: stage, bar, Cancel
  std::optional<dpo::LessonRun> lesson_run_;     // for the next Start only

  QThread* thread_ = nullptr;
  TrainingWorker* worker_ = nullptr;
  RunState state_ = RunState::Idle;
  StudioRunConfig active_config_;
  std::deque<MetricRecord> records_;
  std::vector<EvalRecord> evals_;
  QList<RunEventRecord> events_;
  bool stepping_ = false;  // a Step request is in flight
  qint64 steps_done_ = 0;
  bool run_failed_ = false;
  QString last_error_;
  bool interactive_errors_ = true;
  int threads_ = 0;
  qint64 pause_after_ = 0;
};

}  // namespace dpo::studio
