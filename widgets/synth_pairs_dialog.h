#pragma once
#include <QDialog>
#include <QString>
#include <QStringList>
#include <QVector>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QTreeWidget;

namespace dpo::widgets {

// One prompt's sampled answers as `dpo pairs --candidates` writes them.
struct SynthPreviewAnswer {
  QString text;
  double score = 0;
  int tokens = 0;
  QString role;  // "chosen", "rejected", "both" or ""
};
struct SynthPreviewPrompt {
  QString prompt;
  QVector<SynthPreviewAnswer> answers;
};

// Synthetic preference pairs from the model's own samples (issue 14): prompts, k, scorer and strategy;
// Generate asks the studio to run `dpo pairs`; the preview lists every prompt's candidates with their
// scores and which became chosen / rejected; "Train on these" hands the pairs file to the window.
class SynthPairsDialog : public QDialog {
  Q_OBJECT

 public:
  explicit SynthPairsDialog(QWidget* parent = nullptr);

  // `dpo pairs` arguments for the form (without --model, --out and --candidates).
  QStringList arguments() const;
  // Iterative DPO by hand: sample from the last run's trained model (its final/) instead of the window's
  // model, and train the next round from it.
  bool fromLastRun() const;
  void setLastRunAvailable(bool available);
  void setRunning(bool running);
  void setStatus(const QString& text);
  // A finished run: the preview, the command's report lines, and the pairs file it wrote.
  void setResult(const QVector<SynthPreviewPrompt>& prompts, const QString& report,
                 const QString& pairs_file);

  QTreeWidget* preview() const { return preview_; }
  QString pairsFile() const { return pairs_file_; }
  QSpinBox* kSpin() const { return k_; }
  QSpinBox* maxPromptsSpin() const { return max_prompts_; }
  QLineEdit* scorerEdit() const { return scorer_; }
  QPushButton* generateButton() const { return generate_; }
  QPushButton* trainButton() const { return train_; }
  QCheckBox* fromLastRunBox() const { return from_last_run_; }

 Q_SIGNALS:
  void generateRequested();
  void trainRequested(const QString& pairs_file);

 private:
  QLineEdit* prompts_ = nullptr;
  QSpinBox* max_prompts_ = nullptr;
  QSpinBox* k_ = nullptr;
  QLineEdit* scorer_ = nullptr;
  QComboBox* strategy_ = nullptr;
  QDoubleSpinBox* min_margin_ = nullptr;
  QDoubleSpinBox* temperature_ = nullptr;
  QSpinBox* max_new_tokens_ = nullptr;
  QSpinBox* seed_ = nullptr;
  QCheckBox* from_last_run_ = nullptr;
  QPushButton* generate_ = nullptr;
  QPushButton* train_ = nullptr;
  QLabel* status_ = nullptr;
  QLabel* report_ = nullptr;
  QTreeWidget* preview_ = nullptr;
  QString pairs_file_;
};

}  // namespace dpo::widgets
