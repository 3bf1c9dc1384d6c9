#include "widgets/playground_panel.h"

#include <QDoubleSpinBox>
#include <QFontDatabase>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QTextCursor>
#include <QVBoxLayout>

#include <cmath>

namespace dpo::widgets {

namespace {
QString number(double v) { return std::isfinite(v) ? QString::number(v, 'f', 4) : QStringLiteral("n/a"); }
}  // namespace

PlaygroundPanel::PlaygroundPanel(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);

  prompt_ = new QPlainTextEdit(this);
  prompt_->setObjectName("playgroundPrompt");
  prompt_->setPlaceholderText(tr("Type a prompt, e.g. Question: what is 7 + 7?\\nAnswer:"));
  prompt_->setPlainText(QStringLiteral("Question: what is 7 + 7?\nAnswer:"));
  prompt_->setMaximumHeight(prompt_->fontMetrics().lineSpacing() * 5 + 12);
  prompt_->setToolTip(
      tr("Encoded as the training prompts are (BOS first). The demo model expects "
         "\"Question: …\\nAnswer:\", \"User: …\\nAssistant:\" or the start of a story."));
  layout->addWidget(new QLabel(tr("Prompt"), this));
  layout->addWidget(prompt_);

  auto* controls = new QHBoxLayout;
  max_tokens_ = new QSpinBox(this);
  max_tokens_->setObjectName("playgroundMaxTokens");
  max_tokens_->setRange(1, 1024);
  max_tokens_->setValue(48);
  temperature_ = new QDoubleSpinBox(this);
  temperature_->setObjectName("playgroundTemperature");
  temperature_->setRange(0.0, 5.0);
  temperature_->setSingleStep(0.1);
  temperature_->setDecimals(2);
  temperature_->setValue(0.0);
  temperature_->setSpecialValueText(tr("0 (greedy)"));
  seed_ = new QSpinBox(this);
  seed_->setObjectName("playgroundSeed");
  seed_->setRange(0, 999999);
  seed_->setToolTip(tr("Both models sample with this seed"));
  generate_ = new QPushButton(tr("Generate"), this);
  generate_->setObjectName("playgroundGenerate");
  generate_->setDefault(true);
  controls->addWidget(new QLabel(tr("Max new tokens"), this));
  controls->addWidget(max_tokens_);
  controls->addSpacing(12);
  controls->addWidget(new QLabel(tr("Temperature"), this));
  controls->addWidget(temperature_);
  controls->addSpacing(12);
  controls->addWidget(new QLabel(tr("Seed"), this));
  controls->addWidget(seed_);
  controls->addSpacing(12);
  controls->addWidget(generate_);
  controls->addStretch(1);
  layout->addLayout(controls);
  hint_ = new QLabel(tr("Pause the run to use the Playground."), this);
  hint_->setObjectName("playgroundHint");
  hint_->setStyleSheet(QStringLiteral("color: palette(mid);"));
  hint_->setWordWrap(true);
  layout->addWidget(hint_);

  auto* columns = new QHBoxLayout;
  columns->addWidget(
      buildColumn(tr("Policy"), tr("Sampled from π, the model being trained, as it is now"), policy_), 1);
  columns->addWidget(
      buildColumn(tr("Reference"), tr("Sampled from π_ref, the frozen reference the loss compares against"),
                  reference_),
      1);
  layout->addLayout(columns, 1);

  auto* explanation = new QLabel(tr("r = β·(log π(y|x) − log π_ref(y|x)) is DPO's implicit reward of an "
                                    "answer y: how much more likely the "
                                    "policy makes it than the reference does, scaled by β. Each "
                                    "log-probability sums the answer's tokens, "
                                    "scored by one forward pass of prompt + answer."),
                                 this);
  explanation->setObjectName("playgroundExplanation");
  explanation->setWordWrap(true);
  layout->addWidget(explanation);
  status_ = new QLabel(this);
  status_->setObjectName("playgroundStatus");
  status_->setWordWrap(true);
  layout->addWidget(status_);

  connect(generate_, &QPushButton::clicked, this, &PlaygroundPanel::generate);
  clearScores();
  updateEnabled();
}

QWidget* PlaygroundPanel::buildColumn(const QString& title, const QString& tooltip, Column& column) {
  auto* box = new QGroupBox(title, this);
  box->setObjectName(title.toLower() + "Answer");
  box->setToolTip(tooltip);
  auto* v = new QVBoxLayout(box);
  column.text = new QPlainTextEdit(box);
  column.text->setObjectName(title.toLower() + "AnswerText");
  column.text->setReadOnly(true);
  v->addWidget(column.text, 1);
  // One score per line: three side by side were cut in a half-width column on a laptop.
  auto* scores = new QVBoxLayout;
  scores->setSpacing(1);
  column.logp = new QLabel(box);
  column.ref_logp = new QLabel(box);
  column.reward = new QLabel(box);
  column.logp->setObjectName(title.toLower() + "Logp");
  column.ref_logp->setObjectName(title.toLower() + "RefLogp");
  column.reward->setObjectName(title.toLower() + "Reward");
  column.logp->setToolTip(tr("log π(y|x): the answer's log-probability under the policy"));
  column.ref_logp->setToolTip(tr("log π_ref(y|x): the answer's log-probability under the reference"));
  column.reward->setToolTip(tr("r = β·(log π − log π_ref), the implicit reward"));
  for (auto* label : {column.logp, column.ref_logp, column.reward}) {
    label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    label->setWordWrap(true);
    scores->addWidget(label);
  }
  v->addLayout(scores);
  return box;
}

void PlaygroundPanel::setRunState(bool paused, bool run_active) {
  if (!run_active) busy_ = false;  // a request still queued dies with the run
  setAvailable(paused, paused ? QString() : tr("Pause the run to use the Playground."));
}

void PlaygroundPanel::setAvailable(bool available, const QString& hint) {
  paused_ = available;
  hint_->setText(hint);
  updateEnabled();
}

void PlaygroundPanel::updateEnabled() {
  generate_->setEnabled(paused_ && !busy_);
  hint_->setVisible(!hint_->text().isEmpty());
}

void PlaygroundPanel::setPrompt(const QString& prompt) { prompt_->setPlainText(prompt); }

QString PlaygroundPanel::prompt() const { return prompt_->toPlainText(); }

QString PlaygroundPanel::answerText(int source) const { return column(source).text->toPlainText(); }

void PlaygroundPanel::clearScores() {
  for (const Column* c : {&policy_, &reference_}) {
    c->logp->setText(tr("log π = —"));
    c->ref_logp->setText(tr("log π_ref = —"));
    c->reward->setText(tr("r = —"));
  }
}

void PlaygroundPanel::generate() {
  if (!paused_ || busy_) return;
  busy_ = true;
  result_.reset();
  policy_.text->clear();
  reference_.text->clear();
  clearScores();
  status_->setText(tr("Generating…"));
  updateEnabled();
  Q_EMIT generationRequested(prompt(), max_tokens_->value(), temperature_->value(),
                             static_cast<quint64>(seed_->value()));
}

void PlaygroundPanel::appendToken(int source, const QString& piece) {
  auto* view = column(source).text;
  QTextCursor cursor(view->document());
  cursor.movePosition(QTextCursor::End);
  cursor.insertText(piece);
  view->ensureCursorVisible();
  Q_EMIT tokenAppended(source, piece);
}

void PlaygroundPanel::showResult(const PlaygroundResult& result) {
  busy_ = false;
  result_ = result;
  for (int source : {kPlaygroundPolicy, kPlaygroundReference}) {
    const auto& answer = result.answer(source);
    const auto& c = column(source);
    if (answer.generated && c.text->toPlainText() != answer.text) c.text->setPlainText(answer.text);
    if (!answer.generated && source == kPlaygroundReference && !result.has_reference)
      c.text->setPlainText(tr("(no reference model: this loss is reference-free)"));
    const bool scored = answer.generated && result.error.isEmpty();
    c.logp->setText(tr("log π = %1").arg(scored ? number(answer.logp_policy) : QStringLiteral("n/a")));
    c.ref_logp->setText(
        tr("log π_ref = %1").arg(scored ? number(answer.logp_reference) : QStringLiteral("n/a")));
    c.reward->setText(tr("r = %1 · (log π − log π_ref) = %2")
                          .arg(QString::number(result.beta, 'g', 4),
                               scored ? number(answer.reward) : QStringLiteral("n/a")));
  }
  if (!result.error.isEmpty()) {
    status_->setText(tr("Failed: %1").arg(result.error));
  } else {
    status_->setText(
        tr("Step %1 · β = %2 · prompt %3 tokens · policy %4 tokens (%5) · reference %6")
            .arg(result.step)
            .arg(result.beta, 0, 'g', 4)
            .arg(result.prompt_tokens)
            .arg(result.policy.tokens)
            .arg(result.policy.finish)
            .arg(result.has_reference
                     ? tr("%1 tokens (%2)").arg(result.reference.tokens).arg(result.reference.finish)
                     : tr("none (reference-free loss: rewards n/a)")));
  }
  updateEnabled();
  Q_EMIT resultShown(result);
}

}  // namespace dpo::widgets
