#pragma once
#include <QString>
#include <QStringList>
#include <QWidget>

#include "app/studio/training_worker.h"

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSettings;
class QSpinBox;

namespace dpo::widgets {
class BetaSlider;
}

namespace dpo::studio {

enum class RunState;

// The run's settings form: model and data pickers (the built-in demo first, then recent folders and
// files, then Open…), the objective, optimisation and the settings beyond the basics, with the
// problems a run would fail on shown under them. Reads and fills a StudioRunConfig; what persists
// between sessions goes through loadSettings/saveSettings.
class SettingsPanel : public QWidget {
  Q_OBJECT

 public:
  explicit SettingsPanel(QWidget* parent = nullptr);

  // The form's part of a run's settings; the window adds the dataset columns, threads and lesson.
  void setRunConfig(const StudioRunConfig& config);
  StudioRunConfig runConfig() const;
  // Idle: everything editable; paused: only β and the learning rate; otherwise nothing.
  void setRunState(RunState state);

  QString modelDir() const;              // empty: the built-in demo model
  void setModelDir(const QString& dir);  // added to the recent folders
  QString referenceDir() const;          // empty: a frozen copy of the policy
  void setReferenceDir(const QString& dir);
  qint64 sftReferenceSteps() const;  // > 0: Reference is "Fit by SFT on chosen first"
  void setSftReferenceSteps(qint64 steps);
  QStringList recentDataFiles() const { return recent_data_; }
  void rememberUsed(const StudioRunConfig& config);  // its data file and model go to the recent lists
  void chooseDataFile();

  // Settings a run would fail on (and warnings), one line each; shown under the form.
  QStringList settingsProblems() const;
  bool validate();  // shows the problems; false when a run would fail (emits validityChanged)
  bool isValid() const { return valid_; }
  // The "Reference, LoRA, limits" group: hidden in presentation mode, where the lesson sets the run.
  void setAdvancedVisible(bool on) { more_settings_->setVisible(on); }
  bool advancedVisible() const { return !more_settings_->isHidden(); }

  // Recent files and the last settings; persist() makes every later change of the recent lists saved.
  void loadSettings(QSettings& settings);
  void saveSettings(QSettings& settings) const;
  void persist(bool on) { persistent_ = on; }

  QComboBox* modelCombo() const { return model_combo_; }
  QComboBox* dataCombo() const { return data_combo_; }
  QComboBox* lossCombo() const { return loss_combo_; }
  QLineEdit* dataEdit() const { return data_edit_; }
  QLabel* problemsLabel() const { return validation_; }
  widgets::BetaSlider* betaSlider() const { return beta_slider_; }
  QDoubleSpinBox* betaSpin() const { return beta_spin_; }
  QDoubleSpinBox* learningRateSpin() const { return lr_spin_; }
  QSpinBox* loraRankSpin() const { return lora_spin_; }
  QSpinBox* gradAccumulationSpin() const { return accum_spin_; }
  QSpinBox* processesSpin() const { return processes_spin_; }

 Q_SIGNALS:
  void validityChanged(bool valid);
  void dataPathChanged(const QString& path);
  // β or the learning rate was edited (a paused run takes them from the next step).
  void runChangesEdited();

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  QWidget* buildMoreSettings();
  void fillPickers();
  void syncDataCombo();  // the dataset picker follows the file field
  void onModelPicked(int index);
  void onDataPicked(int index);
  void addRecent(QStringList& list, const QString& path);
  void saveRecent() const;
  void updateLossFormula();

  QLineEdit* data_edit_ = nullptr;
  QComboBox* model_combo_ = nullptr;
  QComboBox* data_combo_ = nullptr;
  int model_index_ = 0;  // back to it when Open… is cancelled
  QStringList recent_data_, recent_models_;
  bool persistent_ = false;
  bool valid_ = true;
  QPushButton* open_button_ = nullptr;
  QComboBox* loss_combo_ = nullptr;
  QLabel* loss_formula_ = nullptr;
  QDoubleSpinBox* beta_spin_ = nullptr;
  widgets::BetaSlider* beta_slider_ = nullptr;
  QDoubleSpinBox* lr_spin_ = nullptr;
  QSpinBox* steps_spin_ = nullptr;
  QSpinBox* batch_spin_ = nullptr;
  QSpinBox* eval_spin_ = nullptr;
  QWidget* more_settings_ = nullptr;
  QComboBox* reference_combo_ = nullptr;
  QSpinBox* sft_steps_spin_ = nullptr;
  QComboBox* device_combo_ = nullptr;
  QSpinBox* accum_spin_ = nullptr;
  QSpinBox* processes_spin_ = nullptr;
  QSpinBox* seed_spin_ = nullptr;
  QSpinBox* max_length_spin_ = nullptr;
  QSpinBox* max_prompt_spin_ = nullptr;
  QSpinBox* lora_spin_ = nullptr;
  QDoubleSpinBox* lora_alpha_spin_ = nullptr;
  QLabel* validation_ = nullptr;
};

}  // namespace dpo::studio
