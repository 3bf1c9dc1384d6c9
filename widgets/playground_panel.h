#pragma once
#include <QString>
#include <QWidget>

#include <optional>

#include "widgets/playground_record.h"

class QDoubleSpinBox;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;

namespace dpo::widgets {

// The Playground (issue 7): type a prompt, watch the policy and the reference answer it side by
// side as their tokens stream in, then each answer's log π, log π_ref and implicit reward
// r = β·(log π − log π_ref). Generation runs in the training worker while the run is paused; this
// panel only asks (generationRequested) and shows what comes back (appendToken, showResult).
class PlaygroundPanel : public QWidget {
  Q_OBJECT

 public:
  explicit PlaygroundPanel(QWidget* parent = nullptr);

  // Generate works only while a run is paused; otherwise a hint says so. A run that ends
  // (run_active false) also drops a request still in flight.
  void setRunState(bool paused, bool run_active);
  // Whether a model can answer now (a paused, finished or stopped run, or a reopened one); `hint`
  // says what to do when it cannot, or what happens on the first Generate.
  void setAvailable(bool available, const QString& hint);
  bool busy() const { return busy_; }

  void setPrompt(const QString& prompt);
  QString prompt() const;
  QString answerText(int source) const;  // what the Policy (0) / Reference (1) view shows
  const std::optional<PlaygroundResult>& lastResult() const { return result_; }

  QPlainTextEdit* promptEdit() const { return prompt_; }
  QSpinBox* maxTokensSpin() const { return max_tokens_; }
  QDoubleSpinBox* temperatureSpin() const { return temperature_; }
  QSpinBox* seedSpin() const { return seed_; }
  QPushButton* generateButton() const { return generate_; }
  QLabel* hintLabel() const { return hint_; }
  QLabel* logpLabel(int source) const { return column(source).logp; }
  QLabel* refLogpLabel(int source) const { return column(source).ref_logp; }
  QLabel* rewardLabel(int source) const { return column(source).reward; }

 public Q_SLOTS:
  void generate();  // clears both views and emits generationRequested (when allowed)
  void appendToken(int source, const QString& piece);
  void showResult(const dpo::widgets::PlaygroundResult& result);

 Q_SIGNALS:
  void generationRequested(const QString& prompt, int max_new_tokens, double temperature, quint64 seed);
  void tokenAppended(int source, const QString& piece);            // after appendToken showed it
  void resultShown(const dpo::widgets::PlaygroundResult& result);  // after showResult

 private:
  struct Column {
    QPlainTextEdit* text = nullptr;
    QLabel* logp = nullptr;
    QLabel* ref_logp = nullptr;
    QLabel* reward = nullptr;
  };
  const Column& column(int source) const { return source == kPlaygroundReference ? reference_ : policy_; }
  QWidget* buildColumn(const QString& title, const QString& tooltip, Column& column);
  void clearScores();
  void updateEnabled();

  QPlainTextEdit* prompt_ = nullptr;
  QSpinBox* max_tokens_ = nullptr;
  QDoubleSpinBox* temperature_ = nullptr;
  QSpinBox* seed_ = nullptr;
  QPushButton* generate_ = nullptr;
  QLabel* hint_ = nullptr;
  QLabel* status_ = nullptr;
  Column policy_, reference_;
  bool paused_ = false;
  bool busy_ = false;
  std::optional<PlaygroundResult> result_;
};

}  // namespace dpo::widgets
